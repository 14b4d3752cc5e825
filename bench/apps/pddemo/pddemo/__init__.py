"""pandas smoke workload for bundler benchmarks."""
__version__ = "0.1.0"


def main():
    import pandas as pd

    df = pd.DataFrame({"k": ["a", "b", "a", "c"], "v": [1, 2, 3, 4]})
    # deterministic checksum so the harness can verify the output
    print(f"pandas {pd.__version__} groupsum {int(df.groupby('k')['v'].sum()['a'])}")
    return 0
