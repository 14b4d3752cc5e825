"""scipy smoke workload for bundler benchmarks."""
__version__ = "0.1.0"


def main():
    import numpy as np
    import scipy
    from scipy import linalg

    a = np.arange(1, 17, dtype=np.float64).reshape(4, 4) + np.eye(4) * 10
    # deterministic checksum so the harness can verify the output
    print(f"scipy {scipy.__version__} det {float(linalg.det(a)):.3f}")
    return 0
