"""``simbox.report.prepare``: the report's templates compiled ahead (``simbox scan`` does it
while the features are computed), so that rendering the report compiles nothing more."""
import jinja2.meta

from simbox import pages
from simbox.report import TEMPLATES, prepare, render_report
from simbox.scan import assemble
from simbox.sites import load_cells


def referenced(name, env, seen=None):
    """``name`` and every template it extends or includes, transitively (from the sources)."""
    seen = set() if seen is None else seen
    if name in seen:
        return seen
    seen.add(name)
    source = env.loader.get_source(env, name)[0]
    for ref in jinja2.meta.find_referenced_templates(env.parse(source)):
        assert ref is not None, f"{name}: a template named at run time cannot be compiled ahead"
        referenced(ref, env, seen)
    return seen


def test_the_list_is_the_report_page_and_what_it_uses():
    env = pages._environment()
    # report.html with what it extends and includes, and the table partial report.py renders
    assert set(TEMPLATES) == referenced("report.html", env) | referenced("_table.html", env)
    assert len(TEMPLATES) == len(set(TEMPLATES))


def test_after_prepare_the_report_compiles_no_template(network, monkeypatch):
    res = assemble(network.res, network.predictions, load_cells(network.cells), threshold=0.5,
                   summary={"model": "synthetic"})
    env = pages._environment()
    env.cache.clear()                  # (other tests may have compiled them already)
    prepare()
    loads = []
    original = type(env.loader).get_source

    def counted(loader, environment, name):
        loads.append(name)
        return original(loader, environment, name)
    monkeypatch.setattr(type(env.loader), "get_source", counted)
    env.auto_reload = False            # (a cached template is used as it is, not checked again)
    text = render_report(res)
    assert "<html" in text and loads == []


def test_the_scan_command_prepares_the_report_only_with_one(monkeypatch, tmp_path):
    import simbox.commands.scan as command
    import simbox.report
    calls = []
    monkeypatch.setattr(simbox.report, "prepare", lambda: calls.append(1))
    parser = __import__("simbox.cli", fromlist=["build_parser"]).build_parser()

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop
    monkeypatch.setattr("simbox.scan.scan", stop)
    for extra, expected in (([], [1]), (["--no-report"], [])):
        calls.clear()
        args = parser.parse_args(["scan", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"),
                                  *extra])
        try:
            command.run(args)
        except Stop:
            pass
        assert calls == expected
