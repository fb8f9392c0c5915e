"""Readers of GDC/TCGA formats on fixtures the tests write themselves (both portal layouts), and
the assembled bulk AnnData against the simulated world's planted samples and files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.errors import InputFileError, UserError
from radiogenomics.io import (
    parse_barcode,
    read_biotab_patient,
    read_gdc_clinical,
    read_gdc_expression,
    read_gdc_manifest,
    read_gmt,
    read_sample_sheet,
    read_star_counts,
    read_tcga_cdr,
    read_tcia_manifest,
    select_aliquots,
    write_gmt,
)

HEADER = ("gene_id\tgene_name\tgene_type\tunstranded\tstranded_first\tstranded_second\t"
          "tpm_unstranded\tfpkm_unstranded\tfpkm_uq_unstranded\n")
QC = ("N_unmapped\t\t\t101\t90\t90\t\t\t\nN_multimapping\t\t\t202\t180\t180\t\t\t\n"
      "N_noFeature\t\t\t303\t270\t270\t\t\t\nN_ambiguous\t\t\t44\t40\t40\t\t\t\n")


def _counts_text(rows: list[tuple[str, str, object]]) -> str:
    body = "".join(f"{gid}\t{name}\tprotein_coding\t{c}\t0\t0\t1.5\t0.5\t0.7\n"
                   for gid, name, c in rows)
    return "# gene-model: GENCODE v36\n" + HEADER + QC + body


def test_star_counts_rows_qc_and_errors(tmp_path):
    path = tmp_path / "x.rna_seq.augmented_star_gene_counts.tsv"
    path.write_text(_counts_text([("ENSG01.3", "A", 5), ("ENSG02.1", "B", 0),
                                  ("ENSG02.1_PAR_Y", "B", 0)]), encoding="utf-8")
    genes, qc = read_star_counts(path)
    assert genes["gene_id"].tolist() == ["ENSG01.3", "ENSG02.1", "ENSG02.1_PAR_Y"]
    assert genes["unstranded"].dtype == np.int64 and genes["unstranded"].tolist() == [5, 0, 0]
    assert qc.to_dict() == {"N_unmapped": 101, "N_multimapping": 202, "N_noFeature": 303,
                            "N_ambiguous": 44}
    bad = {"negative": ("ENSG01.3", "A", -1), "float": ("ENSG01.3", "A", "2.5")}
    for kind, row in bad.items():
        path.write_text(_counts_text([row]), encoding="utf-8")
        with pytest.raises(InputFileError, match="non-negative integers"):
            read_star_counts(path)
    path.write_text(_counts_text([("ENSG01.3", "A", 1), ("ENSG01.3", "A", 2)]), encoding="utf-8")
    with pytest.raises(InputFileError, match="more than once"):
        read_star_counts(path)
    path.write_text(_counts_text([("ENSG01.3", "A", 1)]).replace("\tunstranded", "\tcounts"),
                    encoding="utf-8")
    with pytest.raises(InputFileError, match="missing column.*unstranded"):
        read_star_counts(path)


def test_manifest_allows_empty_md5(tmp_path):
    path = tmp_path / "gdc_manifest.txt"
    path.write_text("id\tfilename\tmd5\tsize\tstate\n"
                    "f1\ta.tsv\t\t10\tlive\nf2\tb.tsv\tABCDEF0123456789abcdef0123456789\t7\t"
                    "released\n", encoding="utf-8")
    table = read_gdc_manifest(path)
    assert table["md5"].tolist() == ["", "abcdef0123456789abcdef0123456789"]
    assert table["size"].tolist() == [10, 7] and table["state"].tolist() == ["live", "released"]
    path.write_text("id\tfilename\tmd5\tsize\tstate\nf1\ta.tsv\t\t10\tlive\nf1\tb.tsv\t\t1\tlive\n",
                    encoding="utf-8")
    with pytest.raises(InputFileError, match="more than once"):
        read_gdc_manifest(path)


COMMON = "File ID\tFile Name\tData Category\tData Type\tProject ID\tCase ID\tSample ID"


def test_sample_sheet_both_layouts_and_multi_sample_rows(tmp_path):
    old = tmp_path / "old.tsv"
    old.write_text(
        f"{COMMON}\tSample Type\n"
        "f1\ta.tsv\tTranscriptome Profiling\tGene Expression Quantification\tTCGA-HNSC\t"
        "TCGA-CV-7100\tTCGA-CV-7100-01A\tPrimary Tumor\n"
        "f2\tb.tsv\tTranscriptome Profiling\tGene Expression Quantification\tTCGA-HNSC\t"
        "TCGA-CV-7100, TCGA-CV-7100\tTCGA-CV-7100-01A, TCGA-CV-7100-11A\t"
        "Primary Tumor, Solid Tissue Normal\n", encoding="utf-8")
    sheet = read_sample_sheet(old)
    assert sheet["layout"].unique().tolist() == ["pre2025"]
    assert sheet["sample_id"].tolist() == ["TCGA-CV-7100-01A", "TCGA-CV-7100-01A",
                                           "TCGA-CV-7100-11A"]
    assert sheet["sample_type"].tolist() == ["Primary Tumor", "Primary Tumor",
                                             "Solid Tissue Normal"]
    new = tmp_path / "new.tsv"
    new.write_text(
        f"{COMMON}\tTissue Type\tTumor Descriptor\tSpecimen Type\tPreservation Method\n"
        "f1\ta.tsv\tTranscriptome Profiling\tGene Expression Quantification\tTCGA-HNSC\t"
        "TCGA-CV-7100\tTCGA-CV-7100-11A\tNormal\tNot Applicable\tSolid Tissue\tFFPE\n",
        encoding="utf-8")
    sheet = read_sample_sheet(new)
    assert sheet.loc[0, "layout"] == "2025" and sheet.loc[0, "tissue_type"] == "Normal"
    assert sheet.loc[0, "preservation_method"] == "FFPE"
    new.write_text(f"{COMMON}\tTissue Type\nf1\ta\tx\ty\tz\tc\ts\tNormal\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="neither 'Sample Type'"):
        read_sample_sheet(new)


OLD_CLINICAL = (
    "case_id\tcase_submitter_id\tproject_id\tage_at_index\tdays_to_death\tgender\tvital_status\t"
    "ajcc_pathologic_stage\tdays_to_last_follow_up\ttreatment_type\n"
    "u1\tTCGA-AA-0001\tTCGA-HNSC\t60\t'--\tmale\tAlive\tStage II\t400\tRadiation Therapy, NOS\n"
    "u1\tTCGA-AA-0001\tTCGA-HNSC\t60\t'--\tmale\tAlive\tStage II\t400\tSurgery, NOS\n"
    "u2\tTCGA-AA-0002\tTCGA-HNSC\t70\t250\tfemale\tDead\tStage IVA\t'--\tSurgery, NOS\n"
    "u3\tTCGA-AA-0003\tTCGA-HNSC\t'--\t'--\t'--\t'--\t'--\t'--\t'--\n"
)
NEW_CLINICAL = (
    "cases.case_id\tcases.submitter_id\tproject.project_id\tdemographic.age_at_index\t"
    "demographic.days_to_death\tdemographic.gender\tdemographic.vital_status\t"
    "diagnoses.ajcc_pathologic_stage\tdiagnoses.days_to_last_follow_up\t"
    "follow_ups.days_to_follow_up\ttreatments.treatment_type\n"
    "u1\tTCGA-AA-0001\tTCGA-HNSC\t60\t'--\tmale\tAlive\tStage II\t120\t90\tRadiation Therapy, NOS\n"
    "u1\tTCGA-AA-0001\tTCGA-HNSC\t60\t'--\tmale\tAlive\tStage II\t120\t400\tRadiation Therapy, NOS\n"
    "u1\tTCGA-AA-0001\tTCGA-HNSC\t60\t'--\tmale\tAlive\tStage II\t120\t90\tSurgery, NOS\n"
    "u2\tTCGA-AA-0002\tTCGA-HNSC\t70\t250\tfemale\tDead\tStage IVA\t'--\t100\tSurgery, NOS\n"
    "u3\tTCGA-AA-0003\tTCGA-HNSC\t'--\t'--\t'--\t'--\t'--\t'--\t'--\t'--\n"
)


@pytest.mark.parametrize("text", [OLD_CLINICAL, NEW_CLINICAL], ids=["pre2025", "2025"])
def test_gdc_clinical_collapses_cases_and_applies_the_os_rule(tmp_path, text):
    path = tmp_path / "clinical.tsv"
    path.write_text(text, encoding="utf-8")
    table = read_gdc_clinical(path)
    assert table.index.tolist() == ["TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003"]
    assert table.loc["TCGA-AA-0001", "OS"] == 0
    assert table.loc["TCGA-AA-0001", "OS_time"] == 400  # the largest follow-up
    assert table.loc["TCGA-AA-0002", "OS"] == 1 and table.loc["TCGA-AA-0002", "OS_time"] == 250
    assert table.loc["TCGA-AA-0001", "treatment_types"] == "Radiation Therapy, NOS; Surgery, NOS"
    only_missing = table.loc["TCGA-AA-0003"]
    assert np.isnan(only_missing["OS"]) and np.isnan(only_missing["OS_time"])
    assert pd.isna(only_missing["stage"]) and np.isnan(only_missing["age"])


def test_tcga_cdr_tokens_tsv_and_xlsx(tmp_path):
    frame = pd.DataFrame({
        "bcr_patient_barcode": ["TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003"],
        "type": ["HNSC", "HNSC", "LUAD"],
        "OS": ["1", "0", "#N/A"], "OS.time": ["300", "[Not Available]", "10"],
        "DSS": ["[Discrepancy]", "0", "0"], "DSS.time": ["300", "1000", "10"],
        "DFI": ["[Not Applicable]", "1", "0"], "DFI.time": ["#N/A", "500", "10"],
        "PFI": ["1", "1", "0"], "PFI.time": ["200", "500", "10"],
    })
    tsv = tmp_path / "cdr.tsv"
    frame.to_csv(tsv, sep="\t", index=False)
    xlsx = tmp_path / "TCGA-CDR-SupplementalTableS1.xlsx"
    with pd.ExcelWriter(xlsx) as writer:  # the published workbook has an unnamed index column
        frame.to_excel(writer, sheet_name="TCGA-CDR", index=True)
        frame.head(1).to_excel(writer, sheet_name="ExtraEndpoints", index=False)
    for path in (tsv, xlsx):
        table = read_tcga_cdr(path, cancer_type="HNSC")
        assert table.index.tolist() == ["TCGA-AA-0001", "TCGA-AA-0002"]
        assert table["OS"].tolist() == [1, 0]
        assert table.loc["TCGA-AA-0001", "OS.time"] == 300
        assert np.isnan(table.loc["TCGA-AA-0002", "OS.time"])
        assert np.isnan(table.loc["TCGA-AA-0001", "DSS"])
        assert np.isnan(table.loc["TCGA-AA-0001", "DFI"]) and table.loc["TCGA-AA-0002", "DFI"] == 1
    frame.loc[0, "OS"] = "2"
    frame.to_csv(tsv, sep="\t", index=False)
    with pytest.raises(InputFileError, match="expected 0 or 1"):
        read_tcga_cdr(tsv)


def test_biotab_hpv_status(tmp_path):
    path = tmp_path / "nationwidechildrens.org_clinical_patient_hnsc.txt"
    path.write_text(
        "bcr_patient_barcode\thpv_status_by_p16_testing\thpv_status_by_ish_testing\n"
        "bcr_patient_barcode\thpv_status_p16\thpv_status_ish\n"
        "CDE_ID:2003301\tCDE_ID:2230580\tCDE_ID:2230584\n"
        "TCGA-AA-0001\tPositive\t[Not Available]\nTCGA-AA-0002\tNegative\tNegative\n"
        "TCGA-AA-0003\t[Not Available]\t[Not Evaluated]\nTCGA-AA-0004\tNegative\tPositive\n",
        encoding="utf-8")
    table = read_biotab_patient(path)
    assert table["hpv_status"].tolist() == ["positive", "negative", None, "positive"]


def test_barcodes_and_the_broad_replicate_rules():
    fields = parse_barcode("TCGA-CV-7100-01A-11R-2016-07")
    assert (fields["patient"], fields["tss"], fields["participant"], fields["sample_type_code"],
            fields["vial"], fields["portion"], fields["analyte"], fields["plate"],
            fields["center"]) == ("TCGA-CV-7100", "CV", "7100", "01", "A", "11", "R", "2016", "07")
    assert fields["sample_type"] == "Primary Solid Tumor" and fields["sample"] == "TCGA-CV-7100-01A"
    assert parse_barcode("TCGA-CV-7100-11A")["sample_type"] == "Solid Tissue Normal"
    assert parse_barcode("TCGA-CV-7100")["sample"] is None
    for bad in ("TCGA-CV-710", "TCGA_CV_7100", "TCGA-CV-7100-1A", "XXXX-CV-7100-01A"):
        with pytest.raises(UserError, match="not a TCGA barcode"):
            parse_barcode(bad)
    barcodes = [
        "TCGA-AA-0001-01A-11R-2000-07", "TCGA-AA-0001-01A-11H-1900-07",  # H beats R
        "TCGA-AA-0002-01A-11R-2000-07", "TCGA-AA-0002-01A-21R-2100-07",  # later plate
        "TCGA-AA-0003-01A-11T-2500-07", "TCGA-AA-0003-01A-11R-2000-07",  # R beats T
        "TCGA-AA-0004-01A-11R-2000-07", "TCGA-AA-0004-01B-11R-2000-07",  # highest barcode
        "TCGA-AA-0005-11A-01R-2000-07", "TCGA-AA-0005-01A-11R-2000-07",  # normal not requested
        "TCGA-AA-0006-01A-11D-2000-07",                                  # DNA aliquot
    ]
    chosen = select_aliquots(barcodes)
    assert chosen.index[chosen["selected"]].tolist() == [
        "TCGA-AA-0001-01A-11H-1900-07", "TCGA-AA-0002-01A-21R-2100-07",
        "TCGA-AA-0003-01A-11R-2000-07", "TCGA-AA-0004-01B-11R-2000-07",
        "TCGA-AA-0005-01A-11R-2000-07"]
    assert "analyte H preferred over R" in chosen.loc["TCGA-AA-0001-01A-11R-2000-07", "reason"]
    assert "later plate" in chosen.loc["TCGA-AA-0002-01A-11R-2000-07", "reason"]
    assert chosen.loc["TCGA-AA-0005-11A-01R-2000-07", "reason"] == "sample type not requested"
    both = select_aliquots(barcodes, sample_types=None)
    assert both.loc["TCGA-AA-0005-11A-01R-2000-07", "selected"]


def test_gmt_round_trip_and_errors(tmp_path):
    path = tmp_path / "sets.gmt"
    write_gmt(path, {"HALLMARK_A": ["G1", "G2"], "B": ["G3"]}, {"HALLMARK_A": "http://x"})
    assert read_gmt(path) == {"HALLMARK_A": ["G1", "G2"], "B": ["G3"]}
    assert path.read_text(encoding="utf-8").splitlines()[0] == "HALLMARK_A\thttp://x\tG1\tG2"
    path.write_text("A\tna\tG1\nA\tna\tG2\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="used twice"):
        read_gmt(path)
    path.write_text("A\tna\t\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="lists no genes"):
        read_gmt(path)


def test_tcia_manifest(tmp_path):
    path = tmp_path / "x.tcia"
    path.write_text("downloadServerUrl=https://nbia.cancerimagingarchive.net/nbia-download/servlet/"
                    "DownloadServlet\nincludeAnnotation=true\nnoOfrRetry=4\ndatabasketId=x.tcia\n"
                    "manifestVersion=3.0\nListOfSeriesToDownload=\n1.3.6.1.4.1.14519.5.2.1.1\n"
                    "1.3.6.1.4.1.14519.5.2.1.2\n1.3.6.1.4.1.14519.5.2.1.1\n", encoding="utf-8")
    settings, series = read_tcia_manifest(path)
    assert settings["manifestVersion"] == "3.0"
    assert series == ["1.3.6.1.4.1.14519.5.2.1.1", "1.3.6.1.4.1.14519.5.2.1.2"]


def _unstranded(path: Path) -> dict[str, int]:
    """The unstranded column of a counts file, read with the csv module (independent of pandas)."""
    with path.open(encoding="utf-8") as fh:
        rows = csv.reader((line for line in fh if not line.startswith("#")), delimiter="\t")
        header = next(rows)
        col = header.index("unstranded")
        return {r[0]: int(r[col]) for r in rows if not r[0].startswith("N_")}


@pytest.mark.parametrize("layout", ["2025", "pre2025"])
def test_bulk_anndata_holds_the_planted_samples_and_file_counts(tmp_path_factory, tiny_world,
                                                                layout):
    if layout == "2025":
        root = tiny_world
    else:
        from radiogenomics.simulate import world

        root = tmp_path_factory.mktemp("old") / "w"
        world(root, scale="tiny", seed=1, clinical_layout="pre2025")
    gdc = root / "gdc"
    adata = read_gdc_expression(
        gdc / "counts", gdc / "gdc_sample_sheet.tsv", clinical=gdc / "clinical.tsv",
        cdr=gdc / "TCGA-CDR-SupplementalTableS1.tsv",
        biotab=gdc / "nationwidechildrens.org_clinical_patient_hnsc.txt")
    truth = pd.read_csv(root / "truth" / "aliquots.tsv", sep="\t", dtype={"sample_type_code": str})
    planted = truth[truth["chosen"] & (truth["sample_type_code"] == "01")]
    assert sorted(adata.obs_names) == sorted(planted["aliquot"])
    assert adata.obs["patient"].is_unique
    assert (adata.obs["sample_type_code"] == "01").all()
    # counts equal the files' unstranded column (PAR_Y rows dropped, IDs versionless)
    for barcode in adata.obs_names[:5]:
        row = planted.set_index("aliquot").loc[barcode]
        expected = _unstranded(gdc / "counts" / row["file_id"] / row["file_name"])
        kept = {k.split(".")[0]: v for k, v in expected.items() if not k.endswith("_PAR_Y")}
        got = adata[barcode].layers["counts"].ravel()
        assert dict(zip(adata.var_names, got.tolist(), strict=True)) == kept
    assert not adata.var_names.str.contains("PAR_Y").any()
    assert adata.var["symbol_unique"].is_unique and not adata.var["gene_name"].is_unique
    # survival from the CDR matches the planted outcomes; HPV from the Biotab file
    planted_patients = pd.read_csv(root / "truth" / "transcriptome.tsv", sep="\t").set_index("patient")
    obs = adata.obs.set_index("patient")
    common = planted_patients.loc[obs.index]
    assert np.array_equal(obs["OS_time"].to_numpy(), common["OS.time"].to_numpy())
    assert np.array_equal(obs["PFI"].to_numpy(), common["PFI"].to_numpy())
    # the GDC clinical rule agrees with the planted OS (the simulator writes both from the same truth)
    assert np.array_equal(obs["OS_gdc"].to_numpy(), common["OS"].to_numpy())
    assert np.array_equal(obs["OS_time_gdc"].to_numpy(), common["OS.time"].to_numpy())
    known = obs["hpv_status"].notna()
    assert ((obs["hpv_status"][known] == "positive").astype(int).to_numpy()
            == common["hpv_positive"][known.to_numpy()].to_numpy()).all()
    # with normals requested, each normal sample joins as its own row
    both = read_gdc_expression(gdc / "counts", gdc / "gdc_sample_sheet.tsv", sample_types=None)
    assert sorted(both.obs_names) == sorted(truth.loc[truth["chosen"], "aliquot"])


def test_ingest_command_line(tiny_world, tmp_path):
    from conftest import run_cli

    out = tmp_path / "bulk"
    res = run_cli("ingest", str(tiny_world / "gdc"), "--out", str(out), "--sample-types", "01,11")
    assert res.returncode == 0, res.stderr
    samples = pd.read_csv(out / "samples.tsv", sep="\t", index_col=0)
    truth = pd.read_csv(tiny_world / "truth" / "aliquots.tsv", sep="\t")
    assert sorted(samples.index) == sorted(truth.loc[truth["chosen"], "aliquot"])
    not_chosen = pd.read_csv(out / "not_chosen.tsv", sep="\t")
    assert sorted(not_chosen["barcode"]) == sorted(truth.loc[~truth["chosen"], "aliquot"])
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run_cli("ingest", str(empty), "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "no gdc_sample_sheet" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_ingest_stage_in_the_tiny_run(tiny_run):
    import anndata as ad

    from radiogenomics.simulate.stage import world_dir

    run_dir = tiny_run / "runs" / "tiny"
    root = world_dir(run_dir / "simulate")
    bulk = ad.read_h5ad(run_dir / "ingest" / "bulk.h5ad")
    truth = pd.read_csv(root / "truth" / "aliquots.tsv", sep="\t", dtype={"sample_type_code": str})
    planted = truth[truth["chosen"] & (truth["sample_type_code"] == "01")]
    assert sorted(bulk.obs_names) == sorted(planted["aliquot"])
    assert bulk.layers["counts"].dtype == np.int32
    html = (tiny_run / "reports" / "tiny" / "index.html").read_text(encoding="utf-8")
    assert 'id="transcriptome"' in html and "aliquots_not_chosen" in html
