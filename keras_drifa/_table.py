"""Plain-text tables: the one layout every printable report in keras-drifa uses."""


def aligned(header, rows, first_left=False):
    """`header` and `rows` (lists of strings) as lines of columns two spaces apart, each
    right-aligned to its widest cell; with `first_left`, the first column is left-aligned
    (a column of names)."""
    lines = [header] + rows
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]

    def line(cells):
        return "  ".join(
            c.ljust(w) if first_left and i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join(line(r) for r in lines)
