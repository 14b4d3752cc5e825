"""importlib.metadata for distributions zipped in the bundle (the DISTS literal)."""
import textwrap

from .helpers import BundleTest

APP = textwrap.dedent('''\
    import sys
    def main():
        import importlib.metadata as md
        print("entry=%r" % [p for p in sys.path if p.endswith(".pyz/site-packages/")])
        print("version=%s" % md.version("Foo_Bar"))
        print("summary=%s" % md.metadata("foo-bar")["Summary"])
        eps = md.entry_points()
        group = eps.select(group="console_scripts") if hasattr(eps, "select") else eps.get("console_scripts", ())
        print("scripts=%s" % sorted(ep.name for ep in group))
        names = sorted(d.metadata["Name"] for d in md.distributions())
        print("dists=%s" % [n for n in names if n in ("foo-bar", "other")])
        print("files=%d" % len(md.files("foo-bar") or ()))
        try:
            md.version("missing-dist")
        except md.PackageNotFoundError:
            print("missing=ok")
        import foo_bar
        print("module=%s" % foo_bar.V)
''')

DIST_INFO = "foo_bar-1.5.dist-info"
SITE = {
    "app.py": APP,
    "foo_bar/__init__.py": "V = 7\n",
    DIST_INFO + "/METADATA": "Metadata-Version: 2.1\nName: foo-bar\nVersion: 1.5\nSummary: a test dist\n",
    DIST_INFO + "/entry_points.txt": "[console_scripts]\nfoo = foo_bar:main\n",
    DIST_INFO + "/RECORD": "foo_bar/__init__.py,,\n" + DIST_INFO + "/METADATA,,\n",
    "other-2.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: other\nVersion: 2.0\n",
}


class MetadataTest(BundleTest):
    def test_bundle_finder(self):
        self.build(
            site=SITE,
            main_extra='DISTS = (("foo-bar", "%s"), ("other", "other-2.0.dist-info"))\n' % DIST_INFO,
        )
        out = self.assertOk(self.run_bundle()).stdout
        self.assertIn("entry=['%s/site-packages/']" % self.bundle, out)
        self.assertIn("version=1.5", out)
        self.assertIn("summary=a test dist", out)
        self.assertIn("scripts=['foo']", out)
        self.assertIn("dists=['foo-bar', 'other']", out)
        self.assertIn("files=2", out)
        self.assertIn("missing=ok", out)
        self.assertIn("module=7", out)

    def test_without_dists_the_store_lists_them(self):
        self.build(site=SITE)
        out = self.assertOk(self.run_bundle()).stdout
        self.assertIn("entry=['%s/site-packages/']" % self.bundle, out)
        self.assertIn("version=1.5", out)
        self.assertIn("scripts=['foo']", out)
