"""The inventory scanner: CSV, JSON and YAML files through a mapping, end to end into a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdb.errors import ImportFormatError
from cmdb.filters import CIFilter
from cmdb.reconcile import reconcile
from discovery import inventory, run_scanner
from impact.report import blast_radius_report

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
MAPPING = FIXTURES / "bookshop-mapping.yaml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def mapping(tmp_path: Path, text: str | None = None) -> Path:
    return write(
        tmp_path,
        "map.yaml",
        text
        or "class: virtual_machine\n"
        "columns: {name: Host, serial_number: Serial, ip: IP}\n"
        "attributes: {cpu_count: {column: CPUs, type: int}}\n"
        "relationships: [{column: Uses, type: depends_on}]\n",
    )


class TestScan:
    def test_bookshop_csv(self):
        result = inventory.scan([FIXTURES / "bookshop.csv"], mapping=MAPPING)
        assert result.source == "inventory" and result.complete
        assert result.scope == [f"file:{(FIXTURES / 'bookshop.csv').resolve().as_posix()}"]
        by_key = {c.key: c for c in result.cis}
        db = by_key["inventory:db-01"]
        assert (db.ci_class, db.identifiers.serial_number, db.identifiers.fqdn) == (
            "physical_server",
            "SN-DB-0001",
            "db-01.shop.example",
        )
        assert db.attributes == {"domain": "shop.example", "os": "linux"}
        assert db.origin == f"{FIXTURES / 'bookshop.csv'}:9" and db.scope == result.scope[0]
        assert by_key["inventory:payments"].unresolved
        rels = {(r.source, r.type, r.target) for r in result.relationships}
        assert ("inventory:orders", "uses", "inventory:payments") in rels
        assert ("inventory:storefront", "provides", "inventory:bookshop") in rels
        assert len(rels) == 11

    @pytest.mark.parametrize("name, records", [("cmdb-export.json", 2), ("hosts.yaml", 2)])
    def test_json_and_yaml(self, name, records):
        result = run_scanner("inventory", [FIXTURES / name], mapping=MAPPING)
        assert len(result.cis) == records
        assert result.cis[0].identifiers.serial_number == "SN-DB-0001"
        if name.endswith(".yaml"):
            assert result.cis[1].origin == f"{FIXTURES / name}:6"

    def test_needs_a_mapping_and_refuses_options_it_does_not_take(self):
        with pytest.raises(ImportFormatError, match="needs --mapping"):
            run_scanner("inventory", [FIXTURES / "bookshop.csv"])
        with pytest.raises(Exception, match="takes no --env-file"):
            run_scanner("inventory", [FIXTURES / "bookshop.csv"], env_file="x")


BAD_CSV = [
    (
        "Host,Serial,IP,CPUs,Uses\na,S1,10.0.0.1,2,\nb,S2,10.0.0.x,2,\n",
        r"hosts.csv:3: column 'IP': '10.0.0.x' is not an IP address",
    ),
    ("Host,Serial,IP,CPUs,Uses\na,S1,,two,\n", r"hosts.csv:2: column 'CPUs': 'two' is not a int"),
    (
        'Host,Serial,IP,CPUs,Uses\na,S1,,1,\n"b\nc",S2,,1,\na,S3,,1,\n',
        r"hosts.csv:5: 'a' is already at .*hosts.csv:2",
    ),
    (
        "Host,Serial,IP,CPUs,Uses\na,S1,,1,zz\n",
        r"hosts.csv:2: column 'Uses' names 'zz', which no row has",
    ),
    ("Host,Serial,IP,CPUs\na,S1,,1\n", r"hosts.csv:1: the mapping names column 'Uses'"),
    ("Host,Serial,IP,CPUs,Uses\na,S1,,1,,extra\n", r"hosts.csv:2: 6 cells, but the header"),
    ("Host,Serial,IP,CPUs,Uses\n", r"hosts.csv: no inventory records"),
    ("Host,Serial,IP,CPUs,Uses\n,S1,,1,\n", r"hosts.csv: no record has a value in 'Host'"),
    ("", r"hosts.csv: empty CSV file"),
]


class TestBadInput:
    @pytest.mark.parametrize("text, message", BAD_CSV)
    def test_csv(self, tmp_path, text, message):
        path = write(tmp_path, "hosts.csv", text)
        with pytest.raises(ImportFormatError, match=message):
            inventory.scan([path], mapping=mapping(tmp_path))

    @pytest.mark.parametrize(
        "name, text, message",
        [
            (
                "h.json",
                '{"items": [{"Host": "a"},\n  {"Host": "b",}]}',
                r"h.json:2: malformed JSON",
            ),
            (
                "h.json",
                '{"items": [{"Host": "a"}, 7]}',
                r"h.json: items\[1\]: a record is a mapping",
            ),
            ("h.json", '{"a": [], "b": []}', r"h.json: which list holds the records"),
            ("h.yaml", "- Host: a\n- Host: [b\n", r"h.yaml:3: malformed YAML"),
            ("h.yaml", "- Host: a\n- just text\n", r"h.yaml:2: a record is a mapping"),
            (
                "h.yaml",
                "- Name: a\n",
                r"h.yaml: no record has a value in 'Host' .*nothing this "
                r"scanner understands",
            ),
            ("h.txt", "x", r"h.txt: unknown inventory format"),
            ("none.csv", None, r"none.csv: no such file"),
        ],
    )
    def test_json_yaml_and_files(self, tmp_path, name, text, message):
        path = write(tmp_path, name, text) if text is not None else tmp_path / name
        with pytest.raises(ImportFormatError, match=message):
            inventory.scan([path], mapping=mapping(tmp_path))

    @pytest.mark.parametrize(
        "text, message",
        [
            ("columns: {name: Host}\n", r"map.yaml: field 'class': Field required"),
            ("- a\n", r"map.yaml: a mapping file is a mapping"),
            ("class: x\ncolumns: {name: H}\nbogus: 1\n", r"map.yaml: field 'bogus'"),
            ("class: x\ncolumns: {name: [H\n", r"map.yaml:3: malformed YAML"),
        ],
    )
    def test_mapping(self, tmp_path, text, message):
        path = write(tmp_path, "hosts.csv", "Host\na\n")
        with pytest.raises(ImportFormatError, match=message):
            inventory.scan([path], mapping=mapping(tmp_path, text))


class TestEndToEnd:
    def test_bookshop_into_the_store_then_blast_radius(self, store):
        result = inventory.scan([FIXTURES / "bookshop.csv"], mapping=MAPPING)
        report = reconcile(store, result)
        assert report.plan.counts["created"] == 10 and report.plan.unresolved == (
            "inventory:payments",
        )
        blast = blast_radius_report(store, ["inventory:db-01"])
        down = {a.id for a in blast.affected if a.state.value == "down"}
        assert down == {
            "inventory:catalog-db",
            "inventory:orders-db",
            "inventory:storefront",
            "inventory:orders",
            "inventory:bookshop",
        }
        assert blast.services == ("inventory:bookshop",)
        again = reconcile(store, inventory.scan([FIXTURES / "bookshop.csv"], mapping=MAPPING))
        assert again.plan.updates == () and again.plan.creates == ()

    def test_two_inventories_one_host(self, store):
        reconcile(store, inventory.scan([FIXTURES / "bookshop.csv"], mapping=MAPPING))
        export = inventory.scan([FIXTURES / "cmdb-export.json"], mapping=MAPPING)
        export = export.model_copy(update={"source": "assetdb"})
        report = reconcile(store, export)
        assert report.plan.creates == ()
        ci = store.find_cis(CIFilter(identifier="SN-ESX-0001"))[0]
        assert ci.id == "inventory:esx-01" and set(ci.last_seen) == {"inventory", "assetdb"}
