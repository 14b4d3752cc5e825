"""matplotlib smoke workload for bundler benchmarks: a figure drawn off screen (Agg)."""
__version__ = "0.1.0"


def main():
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    ax.plot([0, 1, 2], [0, 1, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    # deterministic check so the harness can verify the output
    ok = buf.getvalue()[:4] == b"\x89PNG"
    print(f"matplotlib {matplotlib.__version__} png {ok}")
    return 0
