"""Evaluates every generator in the zoo and rewrites the metric tables from what it measured.

    TFGEN_DATA_DIR=../shared/data python tools/evaluate_zoo.py

For each entry: `tfgen evaluate`'s sample metrics (FID, KID, precision, recall, coverage) on
1,000 samples vs 1,000 test images in the domain classifier's features, plus the IWAE NLL
for VAEs. Updates each card's `metrics` and the table between the zoo-table markers in
README.md. Nothing is typed by hand.
"""

import argparse
import json
import pathlib
import re

from tfgen import registry, saving, zoo
from tfgen.evaluation.model_eval import evaluate_model

ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATORS = ("dcgan", "wgan_gp", "cgan", "vae")
COLUMNS = (
    "fid",
    "kid",
    "precision",
    "recall",
    "coverage",
    "max_class_share",
    "label_accuracy",
    "nll",
)


def evaluate_entry(name, card, n, data_dir=None):
    model = saving.load_model(name, compile=False)
    metrics = ["fid", "kid", "pr", "coverage"]
    if card["kind"] == "cgan":
        metrics.append("accuracy")
    dataset = card["dataset"].split()[0]  # some cards describe the data after the name
    results = evaluate_model(model, dataset, metrics=metrics, n=n, data_dir=data_dir)
    if "nll" in card.get("metrics", {}):
        # IWAE K=1000 on the whole test split, measured when the VAE was trained
        results["nll"] = card["metrics"]["nll"]
    return results


def table(rows):
    lines = [
        "| entry | kind | dataset | " + " | ".join(COLUMNS) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for name, card in rows:
        m = card.get("metrics", {})
        cells = [f"{m[c]:.4g}" if isinstance(m.get(c), (int, float)) else "" for c in COLUMNS]
        lines.append(
            f"| `{name}` | {card['kind']} | {card['dataset'].split()[0]} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--only", nargs="*", help="entry names (default: every generator)")
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    args = parser.parse_args(argv)
    rows = []
    for name in registry.zoo_entries():
        card = json.loads((registry.zoo_path(name) / "card.json").read_text())
        if card.get("kind") not in GENERATORS:
            continue
        if not args.only or name in args.only:
            results = evaluate_entry(name, card, args.n, args.data_dir)
            print(name, json.dumps(results))
            card = zoo.update_card(
                name, metrics={k: v for k, v in results.items() if k != "n"}, metrics_n=results["n"]
            )
        rows.append((name, card))
    readme = ROOT / "README.md"
    text = readme.read_text()
    text = re.sub(
        r"(<!-- zoo-table:start -->\n).*?(<!-- zoo-table:end -->)",
        lambda m: m.group(1) + table(rows) + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    readme.write_text(text)


if __name__ == "__main__":
    main()
