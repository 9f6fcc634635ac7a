"""The figures a fault test measured, printed next to its outcome."""


def report(title: str, **figures: object) -> None:
    """Print the test's figures (shown with `pytest -s` or `-rP`)."""
    print(f"\n[{title}] " + "  ".join(f"{name}={value}" for name, value in figures.items()))
