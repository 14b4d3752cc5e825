//! Libraries with native code or data files, each used through the bundle's interpreter mode
//! (`./bundle.pyz -c CODE`): numpy, cryptography, pyrsistent + zope.interface,
//! requests + certifi, pydantic, pandas (a CSV file), jsonschema + PyYAML (YAML files).

use crate::harness::{Case, write_tree};

/// Bundles `requirements` in interpreter mode, runs `code` in the slim setting and returns
/// stdout.
fn run_code(case: &mut Case, requirements: &[&str], code: &str) -> String {
    let bundle = case.bundle("lib.pyz", requirements);
    let slim = case.slim(&bundle);
    slim.run_ok(&["-c", code])
}

#[test]
fn numpy_matmul() {
    let Some(mut case) = Case::new(6, "numpy", "a 2x2 matmul (vendored `numpy.libs` OpenBLAS)")
    else {
        return;
    };
    let out = run_code(
        &mut case,
        &["numpy"],
        "import numpy as np\n\
         a = np.array([[1.0, 2.0], [3.0, 4.0]])\n\
         b = np.array([[5.0, 6.0], [7.0, 8.0]])\n\
         print((a @ b).astype(int).tolist())\n\
         print(int(np.linalg.det(np.eye(3) * 2).round()))\n",
    );
    assert_eq!(out, "[[19, 22], [43, 50]]\n8\n");
}

#[test]
fn cryptography_fernet() {
    let Some(mut case) = Case::new(7, "cryptography", "a Fernet encrypt/decrypt round trip") else {
        return;
    };
    let out = run_code(
        &mut case,
        &["cryptography"],
        "from cryptography.fernet import Fernet\n\
         f = Fernet(Fernet.generate_key())\n\
         token = f.encrypt(b'secret message')\n\
         assert token != b'secret message'\n\
         print(f.decrypt(token).decode())\n",
    );
    assert_eq!(out, "secret message\n");
}

#[test]
fn pyrsistent_and_zope_interface() {
    let Some(mut case) = Case::new(
        8,
        "pyrsistent + zope.interface",
        "persistent vectors/maps; an interface declared, implemented and verified",
    ) else {
        return;
    };
    let out = run_code(
        &mut case,
        &["pyrsistent", "zope.interface"],
        "import pyrsistent, pvectorc\n\
         from pyrsistent import pvector, pmap\n\
         v = pvector([1, 2, 3]).append(4).set(0, 10)\n\
         m = pmap({'a': 1}).set('b', 2)\n\
         print(list(v), sorted(m.items()), type(v).__module__)\n\
         import zope, zope.interface\n\
         from zope.interface import Interface, implementer\n\
         from zope.interface.verify import verifyObject\n\
         import zope.interface._zope_interface_coptimizations\n\
         class IGreeter(Interface):\n    def greet(name): 'greet'\n\
         @implementer(IGreeter)\n\
         class Greeter:\n    def greet(self, name): return 'hi ' + name\n\
         g = Greeter()\n\
         print(IGreeter.providedBy(g), verifyObject(IGreeter, g), g.greet('zope'))\n",
    );
    assert_eq!(
        out,
        "[10, 2, 3, 4] [('a', 1), ('b', 2)] pvectorc\nTrue True hi zope\n"
    );
}

#[test]
fn requests_certifi_bundle() {
    let Some(mut case) = Case::new(
        9,
        "requests + certifi",
        "`certifi.where()` is a readable CA bundle; a `requests` request is prepared",
    ) else {
        return;
    };
    let out = run_code(
        &mut case,
        &["requests", "certifi"],
        "import certifi, requests, os\n\
         path = certifi.where()\n\
         with open(path) as f: text = f.read()\n\
         print(os.path.isfile(path), 'BEGIN CERTIFICATE' in text)\n\
         p = requests.Request('GET', 'https://example.org/x', params={'q': 'a b'}).prepare()\n\
         print(p.url)\n\
         print(requests.utils.DEFAULT_CA_BUNDLE_PATH == path)\n",
    );
    assert_eq!(out, "True True\nhttps://example.org/x?q=a+b\nTrue\n");
}

#[test]
fn pydantic_validation() {
    let Some(mut case) = Case::new(
        10,
        "pydantic",
        "a model validated (with coercion) and a `ValidationError` (pydantic-core native)",
    ) else {
        return;
    };
    let out = run_code(
        &mut case,
        &["pydantic"],
        "from pydantic import BaseModel, ValidationError\n\
         class User(BaseModel):\n    id: int\n    name: str\n\
         print(User(id='42', name='ada').model_dump())\n\
         try:\n    User(id='x', name='ada')\n\
         except ValidationError as e:\n    print(e.error_count(), e.errors()[0]['loc'], e.errors()[0]['type'])\n",
    );
    assert_eq!(out, "{'id': 42, 'name': 'ada'}\n1 ('id',) int_parsing\n");
}

#[test]
fn pandas_csv_groupby() {
    let Some(mut case) = Case::new(
        26,
        "pandas",
        "reads a CSV, `groupby().agg()`, a pivot table and a time-zone-aware timestamp",
    ) else {
        return;
    };
    let bundle = case.bundle("lib.pyz", &["pandas"]);
    let slim = case.slim(&bundle);
    write_tree(
        &slim.run,
        &[(
            "sales.csv",
            "city,year,sales\nOslo,2024,10\nOslo,2025,12\nLima,2024,7\nLima,2025,9\nLima,2025,1\n",
        )],
    );
    let out = slim.run_ok(&[
        "-c",
        "import pandas as pd\n\
         df = pd.read_csv('sales.csv')\n\
         g = df.groupby('city')['sales'].agg(['sum', 'mean']).round(2)\n\
         print(g.to_csv(), end='')\n\
         p = df.pivot_table(index='city', columns='year', values='sales', aggfunc='sum')\n\
         print(p.loc['Lima', 2025], p.loc['Oslo', 2024])\n\
         print(pd.Timestamp('2025-07-01 12:00', tz='Europe/Oslo').tz_convert('UTC'))\n",
    ]);
    assert_eq!(
        out,
        "city,sum,mean\nLima,17,5.67\nOslo,22,11.0\n10 10\n2025-07-01 10:00:00+00:00\n"
    );
}

#[test]
fn jsonschema_validates_yaml() {
    let Some(mut case) = Case::new(
        27,
        "jsonschema + PyYAML",
        "YAML documents validated against a 2020-12 schema (metaschemas read through `importlib.resources` from the zip; rpds-py and libyaml native)",
    ) else {
        return;
    };
    let bundle = case.bundle("lib.pyz", &["jsonschema", "pyyaml"]);
    let slim = case.slim(&bundle);
    write_tree(
        &slim.run,
        &[
            (
                "schema.yaml",
                "$schema: https://json-schema.org/draft/2020-12/schema\n\
                 type: object\nrequired: [name, port]\nproperties:\n  \
                 name: {type: string}\n  port: {type: integer, minimum: 1, maximum: 65535}\n  \
                 tags: {type: array, items: {type: string}, uniqueItems: true}\n",
            ),
            ("good.yaml", "name: web\nport: 8080\ntags: [a, b]\n"),
            ("bad.yaml", "name: web\nport: 70000\ntags: [a, a]\n"),
        ],
    );
    let out = slim.run_ok(&[
        "-c",
        "import yaml, jsonschema\n\
         from jsonschema import Draft202012Validator\n\
         from jsonschema.validators import validator_for\n\
         import jsonschema_specifications\n\
         schema = yaml.safe_load(open('schema.yaml'))\n\
         Draft202012Validator.check_schema(schema)\n\
         v = Draft202012Validator(schema)\n\
         for name in ('good.yaml', 'bad.yaml'):\n    \
         errors = sorted(v.iter_errors(yaml.safe_load(open(name))), key=lambda e: list(e.path))\n    \
         print(name, [(list(e.path), e.validator) for e in errors])\n\
         print(validator_for({'$schema': 'http://json-schema.org/draft-07/schema#'}).__name__)\n\
         print(len(list(jsonschema_specifications.REGISTRY)) > 5, yaml.__with_libyaml__)\n",
    ]);
    assert_eq!(
        out,
        "good.yaml []\nbad.yaml [(['port'], 'maximum'), (['tags'], 'uniqueItems')]\nDraft7Validator\nTrue True\n"
    );
}
