"""`tfgen list`: the model kinds, and the zoo's entries as a table read from their cards."""

from tfgen import kinds


def add_parser(sub):
    p = sub.add_parser("list", help="list model kinds and zoo entries")
    p.set_defaults(func=run)


def _size(folder):
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return f"{total / 2**20:.1f} MB"


def table(entries):
    """Rows of name, kind, dataset, image size, headline metric and size on disk."""
    from tfgen import registry
    from tfgen.zoo import card as card_lib

    rows = [("name", "kind", "dataset", "image", "headline", "size")]
    for name in entries:
        folder = registry.zoo_path(name)
        card = card_lib.read_card(folder)
        h, w, c = card["image_shape"]
        head = card["headline"]
        arrow = "lower is better" if head["better"] == "lower" else "higher is better"
        rows.append((name, card["kind"], card["dataset"], f"{h}x{w}x{c}",
                     f"{head['metric']} {head['value']:.4g} ({arrow})", _size(folder)))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]


def run(args):
    from tfgen import registry

    print("model kinds: " + ", ".join(kinds.RECIPE_KINDS))
    entries = registry.zoo_entries()
    if not entries:
        print("zoo: no entries installed")
        return
    print(f"zoo ({registry.zoo_dir()}):")
    for line in table(entries):
        print("  " + line)
