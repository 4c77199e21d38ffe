"""``python -m skgmmot``: the command line (see ``python -m skgmmot --help``)."""

if __name__ == "__main__":
    from skgmmot._demo import main, seconds_since_start

    raise SystemExit(main(startup=seconds_since_start()))
