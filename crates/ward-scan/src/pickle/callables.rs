//! Which callables a pickle may import: the built-in allowlist and the catalogue of
//! callables known to be dangerous.
//!
//! The decision is default-deny. A name is allowed only when it is on [`ALLOWED`] (or in
//! the user's policy); every other name is a finding. The dangerous catalogue does not
//! decide what is allowed, only how loud the finding is: a name that runs processes,
//! evaluates code, imports modules, touches files or the network, unpickles nested data or
//! reaches arbitrary attributes is critical, anything else unknown is high. Blocklist
//! scanners are fooled by every gadget they did not list (`timeit.timeit`,
//! `pkgutil.resolve_name`, `asyncio.unix_events._UnixSubprocessTransport._start`, ...);
//! here a missing catalogue entry only lowers a finding from critical to high.
//!
//! Names are full dotted names as the unpickler resolves them: the module, a dot, and the
//! qualified name, which `find_class` walks attribute by attribute (so
//! `posixpath` + `os.system` reaches `os.system`). Matching is exact on the whole string
//! for the allowlist, and per component for the catalogue.

/// Callables that real PyTorch, NumPy, scikit-learn, joblib, XGBoost, LightGBM and
/// `collections` pickles need, and that only rebuild data.
///
/// PyTorch entries follow `torch._weights_only_unpickler` (tensor and parameter rebuilders,
/// storages, dtypes, layouts, memory formats, `torch.Size`, `torch.device`,
/// `_codecs.encode` for protocol 2 bytes). scikit-learn is an explicit list of estimator
/// and helper classes rather than a `sklearn.*` wildcard: a wildcard would also allow
/// functions (`sklearn.utils.*` helpers, `FunctionTransformer` internals) that a crafted
/// pickle could call with chosen arguments, whereas an estimator class called through
/// `NEWOBJ` only allocates and then restores its `__dict__`.
pub const ALLOWED: &[&str] = &[
    // Python built-ins that only build data.
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytearray",
    "builtins.complex",
    "builtins.slice",
    "builtins.object",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.str",
    "builtins.bytes",
    "builtins.list",
    "builtins.dict",
    "builtins.tuple",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "_codecs.encode",
    "collections.OrderedDict",
    "collections.Counter",
    "collections.defaultdict",
    "collections.deque",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    // PyTorch (`torch._weights_only_unpickler` allowed globals).
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._tensor._rebuild_from_type_v2",
    "torch.nn.parameter.Parameter",
    "torch.Size",
    "torch.Tensor",
    "torch.device",
    "torch.serialization._get_layout",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.UntypedStorage",
    "torch.TypedStorage",
    "torch.strided",
    "torch.sparse_coo",
    "torch.sparse_csr",
    "torch.sparse_csc",
    "torch.sparse_bsr",
    "torch.sparse_bsc",
    "torch.contiguous_format",
    "torch.channels_last",
    "torch.channels_last_3d",
    "torch.preserve_format",
    "torch.per_tensor_affine",
    "torch.per_channel_affine",
    "torch.per_tensor_symmetric",
    "torch.per_channel_symmetric",
    "torch.per_channel_affine_float_qparams",
    // NumPy.
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
    // joblib.
    "joblib.numpy_pickle.NumpyArrayWrapper",
    // XGBoost and LightGBM scikit-learn wrappers and boosters.
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRanker",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMRanker",
    // scikit-learn estimators and the helper objects their state holds.
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.svm._classes.SVC",
    "sklearn.svm._classes.SVR",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.svm._classes.LinearSVR",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.naive_bayes.MultinomialNB",
    "sklearn.cluster._kmeans.KMeans",
    "sklearn.decomposition._pca.PCA",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.pipeline.Pipeline",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.Interval",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.__pyx_unpickle_CyHalfBinomialLoss",
    "sklearn._loss._loss.__pyx_unpickle_CyHalfMultinomialLoss",
    "sklearn._loss._loss.__pyx_unpickle_CyHalfSquaredError",
    "sklearn.ensemble._gb_losses.BinomialDeviance",
    "sklearn.dummy.DummyClassifier",
    "sklearn.dummy.DummyRegressor",
    "sklearn.utils._bunch.Bunch",
];

/// PyTorch dtypes, storages and tensor classes, generated into [`is_allowed`] rather than
/// listed one by one.
const TORCH_DTYPES: &[&str] = &[
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "uint8",
    "int8",
    "int16",
    "short",
    "int32",
    "int",
    "int64",
    "long",
    "bool",
    "complex32",
    "chalf",
    "complex64",
    "cfloat",
    "complex128",
    "cdouble",
    "uint16",
    "uint32",
    "uint64",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
];

/// Element types of the legacy typed storage and tensor classes, with their byte sizes.
pub const TORCH_STORAGE_KINDS: &[(&str, u64)] = &[
    ("Float", 4),
    ("Double", 8),
    ("Half", 2),
    ("BFloat16", 2),
    ("Long", 8),
    ("Int", 4),
    ("Short", 2),
    ("Char", 1),
    ("Byte", 1),
    ("Bool", 1),
    ("ComplexFloat", 8),
    ("ComplexDouble", 16),
    ("QInt8", 1),
    ("QUInt8", 1),
    ("QInt32", 4),
    ("QUInt4x2", 1),
    ("QUInt2x4", 1),
    ("Untyped", 1),
];

/// Bytes per element of a storage type global such as `torch.FloatStorage`.
pub fn storage_element_size(full_name: &str) -> Option<u64> {
    let class = full_name
        .strip_prefix("torch.cuda.")
        .or_else(|| full_name.strip_prefix("torch.storage."))
        .or_else(|| full_name.strip_prefix("torch."))?;
    let kind = class.strip_suffix("Storage")?;
    TORCH_STORAGE_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, size)| *size)
}

/// Packages (and subpackages) whose every callable is dangerous: process execution, code
/// evaluation, import machinery, file, network and debugger access, nested unpickling and
/// attribute-access gadgets.
const DANGEROUS_PREFIXES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "subprocess",
    "pty",
    "commands",
    "popen2",
    "shutil",
    "tempfile",
    "glob",
    "fileinput",
    "pathlib",
    "io",
    "_io",
    "codecs",
    "mmap",
    "socket",
    "_socket",
    "ssl",
    "select",
    "selectors",
    "socketserver",
    "http",
    "urllib",
    "urllib2",
    "urllib3",
    "requests",
    "httpx",
    "aiohttp",
    "ftplib",
    "smtplib",
    "poplib",
    "imaplib",
    "telnetlib",
    "xmlrpc",
    "webbrowser",
    "ctypes",
    "_ctypes",
    "cffi",
    "importlib",
    "imp",
    "pkgutil",
    "zipimport",
    "runpy",
    "code",
    "codeop",
    "pdb",
    "bdb",
    "pydoc",
    "timeit",
    "cProfile",
    "profile",
    "trace",
    "pickle",
    "_pickle",
    "cPickle",
    "pickletools",
    "dill",
    "cloudpickle",
    "shelve",
    "marshal",
    "multiprocessing",
    "concurrent",
    "threading",
    "_thread",
    "asyncio",
    "signal",
    "sys",
    "gc",
    "inspect",
    "types",
    "ast",
    "dis",
    "operator",
    "_operator",
    "functools",
    "_functools",
    "itertools",
    "logging",
    "uuid",
    "pip",
    "setuptools",
    "distutils",
    "ensurepip",
    "venv",
    "site",
    "sqlite3",
    "dbm",
    "zipfile",
    "tarfile",
    "numpy.testing",
    "numpy.f2py",
    "numpy.distutils",
    "torch.utils.collect_env",
    "torch.hub",
    "torch.jit",
    "torch._dynamo",
    "torch.package",
    "torch.serialization.load",
    "torch.load",
    "torch.save",
    "numpy.load",
    "numpy.fromfile",
    "numpy.save",
    "numpy.lib.npyio",
    "joblib.load",
    "joblib.numpy_pickle.load",
    "yaml",
    "jinja2",
];

/// Built-ins that evaluate code, reach attributes, open files or read input.
const DANGEROUS_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "execfile",
    "compile",
    "__import__",
    "open",
    "file",
    "input",
    "raw_input",
    "getattr",
    "setattr",
    "delattr",
    "hasattr",
    "globals",
    "locals",
    "vars",
    "dir",
    "breakpoint",
    "help",
    "exit",
    "quit",
    "reload",
    "apply",
    "type",
    "super",
    "memoryview",
    "classmethod",
    "staticmethod",
    "property",
    "print",
    "map",
    "filter",
];

/// Names that are dangerous in whatever module they appear: a module outside the catalogue
/// exporting `system` or `loads` is treated like the ones inside it.
const DANGEROUS_NAMES: &[&str] = &[
    "system",
    "popen",
    "Popen",
    "exec",
    "eval",
    "execfile",
    "compile",
    "spawn",
    "spawnl",
    "spawnv",
    "spawnve",
    "spawnlp",
    "execv",
    "execve",
    "execl",
    "execlp",
    "execvp",
    "fork",
    "kill",
    "call",
    "check_call",
    "check_output",
    "getoutput",
    "getstatusoutput",
    "run",
    "run_path",
    "run_module",
    "runcode",
    "runsource",
    "loads",
    "load",
    "open",
    "urlopen",
    "urlretrieve",
    "import_module",
    "__import__",
    "getattr",
    "getattr_static",
    "attrgetter",
    "methodcaller",
    "resolve_name",
    "locate",
    "create_connection",
    "remove",
    "unlink",
    "rmtree",
    "rmdir",
    "startfile",
    "write_bytes",
    "write_text",
    "CDLL",
    "PyDLL",
    "LoadLibrary",
];

/// How a callable is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// On the built-in allowlist or in the user's policy.
    Allowed,
    /// Known to run code, reach files or the network, or unpickle more data.
    Dangerous,
    /// Not allowed and not known to be dangerous.
    Unknown,
}

/// Whether a name is on the built-in allowlist.
pub fn is_allowed(full: &str) -> bool {
    if ALLOWED.contains(&full) {
        return true;
    }
    if let Some(rest) = full.strip_prefix("torch.") {
        if TORCH_DTYPES.contains(&rest) {
            return true;
        }
        let class = rest.strip_prefix("cuda.").unwrap_or(rest);
        for (kind, _) in TORCH_STORAGE_KINDS {
            if let Some(suffix) = class.strip_prefix(kind)
                && (suffix == "Storage" || (suffix == "Tensor" && *kind != "Untyped"))
            {
                return true;
            }
        }
    }
    false
}

/// Judges the full dotted name `module.qualname`, allowing also `extra` (the policy's
/// allowed globals).
pub fn judge(full: &str, extra: &std::collections::BTreeSet<String>) -> Verdict {
    if is_allowed(full) || extra.contains(full) {
        return Verdict::Allowed;
    }
    if is_dangerous(full) {
        Verdict::Dangerous
    } else {
        Verdict::Unknown
    }
}

/// Whether a full name is in the dangerous catalogue.
pub fn is_dangerous(full: &str) -> bool {
    if DANGEROUS_PREFIXES
        .iter()
        .any(|p| full == *p || full.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
    {
        return true;
    }
    let mut parts = full.split('.');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    if matches!(first, "builtins" | "__builtin__" | "__builtins__")
        && rest.first().is_some_and(|n| DANGEROUS_BUILTINS.contains(n))
    {
        return true;
    }
    full.split('.').enumerate().any(|(i, part)| {
        // Any attribute named like a dangerous function, wherever it sits, and any dunder
        // attribute walk (`__globals__`, `__builtins__`, `__subclasses__`): those reach
        // objects that data never needs.
        DANGEROUS_NAMES.contains(&part)
            || (part.starts_with("__") && part != "__main__" && (i > 0 || part != "__builtin__"))
            || (i > 0 && DANGEROUS_PREFIXES.contains(&part))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn torch_numpy_and_collections_names_are_allowed() {
        for name in [
            "torch._utils._rebuild_tensor_v2",
            "torch.FloatStorage",
            "torch.cuda.HalfStorage",
            "torch.LongTensor",
            "torch.bfloat16",
            "collections.OrderedDict",
            "numpy._core.multiarray._reconstruct",
            "joblib.numpy_pickle.NumpyArrayWrapper",
        ] {
            assert_eq!(judge(name, &BTreeSet::new()), Verdict::Allowed, "{name}");
        }
        assert_eq!(storage_element_size("torch.DoubleStorage"), Some(8));
        assert_eq!(storage_element_size("torch.UntypedStorage"), Some(1));
    }

    #[test]
    fn gadgets_are_dangerous_and_everything_else_unknown() {
        for name in [
            "os.system",
            "posix.system",
            "nt.system",
            "posixpath.os.system",
            "builtins.eval",
            "builtins.getattr",
            "importlib.import_module",
            "inspect.getattr_static",
            "pkgutil.resolve_name",
            "operator.methodcaller",
            "operator.attrgetter",
            "functools.partial",
            "timeit.timeit",
            "cProfile.run",
            "runpy._run_code",
            "code.InteractiveInterpreter",
            "pip.main",
            "torch.utils.collect_env.run",
            "asyncio.unix_events._UnixSubprocessTransport._start",
            "uuid._get_command_stdout",
            "logging.FileHandler",
            "_io.FileIO",
            "marshal.loads",
            "ctypes.CDLL",
            "webbrowser.open",
            "socket.create_connection",
            "pickle.loads",
            "subprocess.Popen.__init__",
            "mylib.tools.system",
            "torch._utils._rebuild_tensor_v2.__globals__",
        ] {
            assert_eq!(judge(name, &BTreeSet::new()), Verdict::Dangerous, "{name}");
        }
        for name in [
            "mylib.Model",
            "torch.nn.Linear",
            "sklearn.utils.fake",
            "__main__.Net",
        ] {
            assert_eq!(judge(name, &BTreeSet::new()), Verdict::Unknown, "{name}");
        }
        let extra = BTreeSet::from(["mylib.Model".to_owned()]);
        assert_eq!(judge("mylib.Model", &extra), Verdict::Allowed);
        // Exact matching: a prefix of an allowed name is not allowed.
        assert_eq!(
            judge("collections.OrderedDictX", &BTreeSet::new()),
            Verdict::Unknown
        );
        assert_eq!(
            judge("torch.FloatStorage.x", &BTreeSet::new()),
            Verdict::Unknown
        );
    }
}
