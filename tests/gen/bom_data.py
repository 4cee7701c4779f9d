"""Dataset files written by the real libraries, for ward's dataset sniffers.

Usage: bom_data.py OUTDIR

Writes, with the libraries that produce these files in practice:

- `train.parquet` (pyarrow): 1000 rows, 3 columns, in row groups of 300 rows;
- `table.arrow` (pyarrow): the Arrow IPC file format, as `pyarrow.feather` writes it
  (Feather v2);
- `stream.arrow` (pyarrow): the Arrow IPC streaming format;
- `hf_dataset/` (Hugging Face `datasets`, `save_to_disk`): `data-00000-of-00001.arrow`
  (an IPC stream), `dataset_info.json` and `state.json`;
- `rows.csv` and `rows.tsv` (the `csv` module), with quoted fields holding delimiters,
  quotes and line breaks, longer than the 64 KiB a sniffer reads;
- `rows.jsonl` (the `json` module), one object per line, also longer than 64 KiB;
- `records.tfrecord` (TensorBoard's `RecordWriter`, the TFRecord framing TensorFlow
  uses): serialized `Event` protos, as in a TensorBoard event file;
- `large.tfrecord`: the same framing with a first record larger than 64 KiB.

It also writes `manifest.tsv`: one line per file with its path, the format ward must
recognise (`none` for files that are no dataset format), and for Parquet the row count,
column count and writer as pyarrow itself reads them from the footer.
"""

import csv
import json
import os
import sys

import datasets
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

ROWS = 1000


def table(rows):
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "text": pa.array([f"row {i}, with a comma" for i in range(rows)]),
            "score": pa.array([i / 7 for i in range(rows)], pa.float64()),
        }
    )


def arrow_files(out, manifest):
    path = os.path.join(out, "train.parquet")
    pq.write_table(table(ROWS), path, row_group_size=300)
    meta = pq.ParquetFile(path).metadata
    manifest.append(("train.parquet", "parquet", meta.num_rows, meta.num_columns, meta.created_by))

    feather.write_feather(table(100), os.path.join(out, "table.arrow"))
    manifest.append(("table.arrow", "arrow"))

    small = table(100)
    with ipc.new_stream(os.path.join(out, "stream.arrow"), small.schema) as writer:
        writer.write_table(small)
    manifest.append(("stream.arrow", "arrow-stream"))


def hf_dataset(out, manifest):
    ds = datasets.Dataset.from_dict(
        {"text": ["a first example", "a second example", "a third"], "label": [0, 1, 0]}
    )
    ds.save_to_disk(os.path.join(out, "hf_dataset"))
    shards = sorted(n for n in os.listdir(os.path.join(out, "hf_dataset")) if n.endswith(".arrow"))
    if shards != ["data-00000-of-00001.arrow"]:
        sys.exit(f"unexpected save_to_disk shards: {shards}")
    manifest.append(("hf_dataset/data-00000-of-00001.arrow", "arrow-stream"))
    # Pretty-printed JSON is neither JSON Lines nor CSV.
    manifest.append(("hf_dataset/dataset_info.json", "none"))
    manifest.append(("hf_dataset/state.json", "none"))


def text_files(out, manifest):
    rows = [
        (i, f'review {i}: "great", said the user,\nthen left' if i % 5 == 0 else f"plain text {i}", i % 3)
        for i in range(3000)
    ]
    with open(os.path.join(out, "rows.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "label"])
        writer.writerows(rows)
    manifest.append(("rows.csv", "csv"))
    with open(os.path.join(out, "rows.tsv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["id", "text", "label"])
        writer.writerows(rows)
    manifest.append(("rows.tsv", "csv"))
    with open(os.path.join(out, "rows.jsonl"), "w", encoding="utf-8") as f:
        for i, text, label in rows:
            record = {"id": i, "text": text, "label": label, "tags": ["é", None, True]}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    manifest.append(("rows.jsonl", "jsonl"))


def tfrecords(out, manifest):
    writer = RecordWriter(open(os.path.join(out, "records.tfrecord"), "wb"))
    for step in range(50):
        event = event_pb2.Event(wall_time=1_700_000_000.0 + step, step=step)
        event.summary.value.add(tag="loss", simple_value=1.0 / (step + 1))
        writer.write(event.SerializeToString())
    writer.close()
    manifest.append(("records.tfrecord", "tfrecord"))

    writer = RecordWriter(open(os.path.join(out, "large.tfrecord"), "wb"))
    event = event_pb2.Event(wall_time=1_700_000_000.0, step=0)
    event.summary.value.add(tag="blob", tensor={"dtype": 7, "string_val": [b"x" * 100_000]})
    writer.write(event.SerializeToString())
    writer.write(b"a second, small record")
    writer.close()
    manifest.append(("large.tfrecord", "tfrecord"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    datasets.disable_progress_bars()
    manifest = []
    arrow_files(out, manifest)
    hf_dataset(out, manifest)
    text_files(out, manifest)
    tfrecords(out, manifest)
    with open(os.path.join(out, "manifest.tsv"), "w", encoding="utf-8") as f:
        for entry in manifest:
            fields = [str(v) for v in entry] + ["-"] * (5 - len(entry))
            f.write("\t".join(fields) + "\n")


if __name__ == "__main__":
    main()
