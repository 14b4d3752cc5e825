"""scikit-learn smoke workload for bundler benchmarks."""
__version__ = "0.1.0"


def main():
    import numpy as np
    import sklearn
    from sklearn.linear_model import LinearRegression

    x = np.arange(8, dtype=np.float64).reshape(-1, 1)
    model = LinearRegression().fit(x, 3 * x[:, 0] + 1)
    # deterministic checksum so the harness can verify the output
    print(f"sklearn {sklearn.__version__} slope {float(model.coef_[0]):.3f}")
    return 0
