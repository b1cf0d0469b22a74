"""Check every data set of the chapter by size and sha256; download what is missing.

Usage: python scripts/check_data.py   (what `make data` runs)

The data folder is $MMIDS_DATA_DIR, or data/ in the repository. Exits with status 1 and
a message naming each missing or damaged file when one could not be fetched.
"""

import sys

import mmids

if __name__ == "__main__":
    try:
        files = mmids.check_data(verbose=True)
    except mmids.DataError as err:
        sys.exit(f"make data: FAILED\n{err}")
    print(f"All {len(files)} data files are present and intact in {mmids.data_dir()}.")
