"""`tfgen list`: list the model kinds and the zoo's entries."""

import json


def add_parser(sub):
    p = sub.add_parser("list", help="list model kinds and zoo entries")
    p.set_defaults(func=run)


def run(args):
    import tfgen.models  # noqa: F401  (registers the kinds)
    from tfgen import registry

    print("model kinds: " + ", ".join(sorted(registry.MODEL_KINDS)))
    entries = registry.zoo_entries()
    print(f"zoo ({registry.zoo_dir()}):" if entries else "zoo: no entries installed")
    for name in entries:
        card = json.loads((registry.zoo_path(name) / "card.json").read_text())
        metrics = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in card.get("metrics", {}).items()
        )
        print(f"  {name:28s} {card.get('kind', '?'):10s} {card.get('dataset', '?'):14s} {metrics}")
