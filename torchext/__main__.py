"""The torchext command line: `python -m torchext {demo,check,bench,coverage}`."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m torchext", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="tutorial programs and a ResNet18 training step on torchext vs "
                                "native, gradcheck of every op, and a speed comparison")
    sub.add_parser("check", help="gradcheck every torchext op (float64, small shapes)")
    bench = sub.add_parser("bench", help="per-op and whole-model benchmarks against native")
    bench.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    bench.add_argument("--out", default="benchmarks/results", help="where to save the results")
    bench.add_argument("--render", metavar="JSON", help="only rewrite the table, chart and README "
                                                        "section from a saved results file")
    coverage = sub.add_parser("coverage", help="every torchvision classification model patched: "
                                               "share of compute on torchext, parity, step time")
    coverage.add_argument("models", nargs="*", help="model names or fnmatch patterns (default: all)")
    coverage.add_argument("--size", type=int, default=64, help="input side (default 64)")
    coverage.add_argument("--batch", type=int, default=2, help="batch size (default 2)")
    coverage.add_argument("--out", help="folder to save coverage.json and coverage.md in")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as run
        return run()
    if args.command == "check":
        from .check import main as run
        return run()
    if args.command == "coverage":
        from .coverage import main as run
        return run(args.models, args.size, args.batch, args.out)
    from .bench import main as run
    return run(quick=args.quick, out_dir=args.out, render=args.render)


if __name__ == "__main__":
    sys.exit(main())
