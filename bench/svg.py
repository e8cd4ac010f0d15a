"""A small line chart as SVG, so the benchmarks need no plotting library."""

from pathlib import Path

WIDTH, HEIGHT, PAD = 640, 360, 60


def line_chart(
    path: Path, title: str, x_label: str, y_label: str, series: dict[str, list[tuple[float, float]]]
) -> Path:
    """series: name -> [(x, y), ...]; one coloured line each, with a legend."""
    colours = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00"]
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_max, y_max = max(xs) or 1, (max(ys) or 1) * 1.1

    def px(x: float) -> float:
        return PAD + x / x_max * (WIDTH - 2 * PAD)

    def py(y: float) -> float:
        return HEIGHT - PAD - y / y_max * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="black"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="black"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 18}" text-anchor="middle">{x_label}</text>',
        f'<text x="16" y="{HEIGHT / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {HEIGHT / 2})">{y_label}</text>',
    ]
    for i in range(5):
        y = y_max * i / 4
        parts.append(
            f'<text x="{PAD - 6}" y="{py(y) + 4}" text-anchor="end">{y:,.0f}</text>'
            f'<line x1="{PAD}" y1="{py(y)}" x2="{WIDTH - PAD}" y2="{py(y)}" stroke="#ddd"/>'
        )
    for x in sorted(set(xs)):
        parts.append(
            f'<text x="{px(x)}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{x:,.0f}</text>'
        )
    for n, (name, points) in enumerate(series.items()):
        colour = colours[n % len(colours)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        parts += [
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in points
        ]
        ly = PAD + 6 + 18 * n
        parts.append(
            f'<rect x="{PAD + 12}" y="{ly - 9}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{PAD + 30}" y="{ly - 3}">{name}</text>'
        )
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
    return path
