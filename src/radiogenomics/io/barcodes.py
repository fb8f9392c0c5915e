"""TCGA barcodes: parsing, sample types, and one aliquot per patient by the Broad GDAC rules.

A full aliquot barcode ``TCGA-CV-7100-01A-11R-2016-07`` is project, tissue source site (``CV``),
participant (``7100``), sample type (``01``) + vial (``A``), portion (``11``) + analyte (``R``),
plate (``2016``) and sequencing centre (``07``) (GDC documentation, "TCGA Barcode"). The patient
is the first 12 characters, the sample the first 15 (16 with the vial).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import pandas as pd

from .._logging import logger
from ..errors import UserError

__all__ = ["ANALYTE_PREFERENCE", "SAMPLE_TYPES", "parse_barcode", "parse_barcodes",
           "select_aliquots"]

#: TCGA sample type codes (GDC "Sample Type Codes" table; the ones TCGA-HNSC uses and their kin)
SAMPLE_TYPES: dict[str, str] = {
    "01": "Primary Solid Tumor",
    "02": "Recurrent Solid Tumor",
    "03": "Primary Blood Derived Cancer - Peripheral Blood",
    "05": "Additional - New Primary",
    "06": "Metastatic",
    "07": "Additional Metastatic",
    "10": "Blood Derived Normal",
    "11": "Solid Tissue Normal",
    "12": "Buccal Cell Normal",
    "14": "Bone Marrow Normal",
}

#: Broad GDAC "replicate samples" rules: the preferred analyte first
ANALYTE_PREFERENCE: dict[str, tuple[str, ...]] = {
    "RNA": ("H", "R", "T"),
    "DNA": ("D", "G", "W", "X"),
}

_BARCODE = re.compile(
    r"^(?P<project>TCGA)-(?P<tss>[A-Z0-9]{2})-(?P<participant>[A-Z0-9]{4})"
    r"(?:-(?P<sample_type_code>\d{2})(?P<vial>[A-Z])?"
    r"(?:-(?P<portion>\d{2})(?P<analyte>[A-Z])"
    r"(?:-(?P<plate>[A-Z0-9]{4})(?:-(?P<center>[A-Z0-9]{2}))?)?)?)?$"
)
FIELDS = ("project", "tss", "participant", "sample_type_code", "vial", "portion", "analyte",
          "plate", "center")


def parse_barcode(barcode: str) -> dict[str, str | None]:
    """The fields of a TCGA barcode (patient, sample, portion or aliquot level).

    Returns a dict with ``barcode``, ``patient`` (12 characters), ``sample`` (up to the vial),
    the fields ``project, tss, participant, sample_type_code, vial, portion, analyte, plate,
    center`` (``None`` where the barcode stops earlier) and ``sample_type`` (the code's name).

    Raises
    ------
    UserError
        When ``barcode`` is not a TCGA barcode.
    """
    text = str(barcode).strip().upper()
    match = _BARCODE.match(text)
    if match is None:
        msg = (f"{barcode!r} is not a TCGA barcode; expected e.g. TCGA-CV-7100 (patient), "
               f"TCGA-CV-7100-01A (sample) or TCGA-CV-7100-01A-11R-2016-07 (aliquot)")
        raise UserError(msg)
    fields: dict[str, str | None] = {"barcode": text, "patient": text[:12]}
    fields.update({k: match.group(k) for k in FIELDS})
    code = fields["sample_type_code"]
    if code is None:
        fields["sample"] = None
        fields["sample_type"] = None
    else:
        fields["sample"] = text[:16] if fields["vial"] else text[:15]
        fields["sample_type"] = SAMPLE_TYPES.get(code, f"sample type {code}")
    return fields


def parse_barcodes(barcodes: Iterable[str], where: str = "") -> pd.DataFrame:
    """:func:`parse_barcode` over many barcodes: one row each, indexed by the barcode.

    ``where`` (a file name, a column) prefixes the error message of a malformed barcode.
    """
    rows = []
    for b in barcodes:
        try:
            rows.append(parse_barcode(b))
        except UserError as exc:
            raise UserError(f"{where}: {exc}" if where else str(exc)) from None
    table = pd.DataFrame(rows, columns=["barcode", "patient", "sample", *FIELDS, "sample_type"])
    return table.set_index("barcode", drop=False).rename_axis(None)


def select_aliquots(
    barcodes: Iterable[str],
    analyte: Literal["RNA", "DNA"] = "RNA",
    sample_types: Iterable[str] | None = ("01",),
) -> pd.DataFrame:
    """Choose one aliquot per patient (and sample type) by the Broad GDAC replicate rules.

    Among a patient's aliquots of the same sample type: prefer the analyte earlier in
    :data:`ANALYTE_PREFERENCE` (RNA: H over R over T), then the later plate, then the
    lexicographically highest barcode. Every choice among several aliquots is logged.

    Parameters
    ----------
    barcodes
        Full aliquot barcodes (28 characters).
    analyte
        Which preference list applies.
    sample_types
        Sample type codes to keep (default primary tumours only); ``None`` keeps all.

    Returns
    -------
    DataFrame
        One row per input barcode (parsed fields) with ``selected`` (bool) and ``reason``: why
        a barcode was or was not selected.
    """
    if analyte not in ANALYTE_PREFERENCE:
        msg = f"analyte={analyte!r}; expected one of {sorted(ANALYTE_PREFERENCE)}"
        raise UserError(msg)
    table = parse_barcodes(barcodes, where="aliquot barcodes")
    if table["barcode"].duplicated().any():
        dup = table["barcode"][table["barcode"].duplicated()].unique().tolist()
        msg = f"aliquot barcodes: {dup[:5]} listed more than once; each aliquot must appear once"
        raise UserError(msg)
    short = table["plate"].isna()
    if short.any():
        msg = (f"aliquot barcodes: {table['barcode'][short].tolist()[:5]} stop before the plate; "
               f"aliquot selection needs full barcodes such as TCGA-CV-7100-01A-11R-2016-07")
        raise UserError(msg)
    order = ANALYTE_PREFERENCE[analyte]
    table = table.reset_index(drop=True)
    table["selected"] = False
    table["reason"] = ""
    keep = table["sample_type_code"].isin(list(sample_types)) if sample_types is not None else (
        pd.Series(True, index=table.index))
    table.loc[~keep, "reason"] = "sample type not requested"
    wrong = keep & ~table["analyte"].isin(order)
    table.loc[wrong, "reason"] = f"analyte not {analyte} ({'/'.join(order)})"
    candidates = table[keep & ~wrong].copy()
    candidates["_rank"] = candidates["analyte"].map({a: i for i, a in enumerate(order)})
    for (patient, code), group in candidates.groupby(["patient", "sample_type_code"], sort=True):
        ranked = group.sort_values(["_rank", "plate", "barcode"],
                                   ascending=[True, False, False])
        best = ranked.index[0]
        table.loc[best, "selected"] = True
        if len(ranked) == 1:
            table.loc[best, "reason"] = "only aliquot"
            continue
        top = ranked.iloc[0]
        for idx, other in ranked.iloc[1:].iterrows():
            if other["_rank"] != top["_rank"]:
                why = f"analyte {top['analyte']} preferred over {other['analyte']}"
            elif other["plate"] != top["plate"]:
                why = f"later plate {top['plate']} preferred over {other['plate']}"
            else:
                why = "lexicographically higher barcode preferred"
            table.loc[idx, "reason"] = f"replicate: {top['barcode']} chosen ({why})"
        table.loc[best, "reason"] = f"chosen among {len(ranked)} aliquots"
        logger.info("%s (sample type %s): chose %s over %s", patient, code, top["barcode"],
                    ", ".join(ranked["barcode"].iloc[1:]))
    return table.set_index("barcode", drop=False).rename_axis(None)
