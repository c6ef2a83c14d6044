"""Dask with TLS: run on a cluster that requires encryption and certificates signed by the
user's own authority, from the command line, with the local results.

The certificates are made for the test by the openssl command (a throw-away authority,
one certificate for the scheduler, worker and client, valid for a day); the cluster
listens on loopback only.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from distributed import LocalCluster
from distributed.security import Security
from test_bad_input import assert_bad_input
from test_sweep_dask import SCENARIO

from bordersim.cli import cli


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "1", "-subj", "/CN=bordersim test authority")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr",
            "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "node.pem", "-days", "1", "-extfile", "ext.cnf")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
            "other.pem", "-days", "1", "-subj", "/CN=someone else")
    return {"ca": d / "ca.pem", "cert": d / "node.pem", "key": d / "node.key",
            "other_ca": d / "other.pem", "other_key": d / "other.key"}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_a_run_on_a_tls_cluster_gives_the_local_results(tmp_path, certificates):
    c = certificates
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    local = tmp_path / "local"
    assert invoke("run", scenario, "-q", "-j", "1", "--out", local).exit_code == 0
    security = Security(tls_ca_file=str(c["ca"]), tls_scheduler_cert=str(c["cert"]),
                        tls_scheduler_key=str(c["key"]), tls_worker_cert=str(c["cert"]),
                        tls_worker_key=str(c["key"]), tls_client_cert=str(c["cert"]),
                        tls_client_key=str(c["key"]), require_encryption=True)
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, host="127.0.0.1",
                      protocol="tls://", security=security, dashboard_address=None,
                      silence_logs=50) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        on_dask = tmp_path / "dask"
        res = invoke("run", scenario, "-q", "--scheduler", address, "--tls-ca-file", c["ca"],
                     "--tls-cert", c["cert"], "--tls-key", c["key"], "--out", on_dask)
        assert res.exit_code == 0, res.output
        for name in ("summary.csv", "replications.csv", "timeseries.csv"):
            assert (on_dask / name).read_bytes() == (local / name).read_bytes(), name
        # without the TLS files, or with another authority's, the client is refused at once
        assert_bad_input(invoke("run", scenario, "-q", "--scheduler", address,
                                "--out", tmp_path / "x"), "is a TLS cluster", "--tls-ca-file")
        assert_bad_input(invoke("run", scenario, "-q", "--scheduler", address,
                                "--tls-ca-file", c["other_ca"], "--tls-cert", c["other_ca"],
                                "--tls-key", c["other_key"], "--out", tmp_path / "x"),
                         "TLS handshake", "failed")
        assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, words", [
    (["--tls-ca-file", "ca.pem"], ("--tls-ca-file", "tls:// --scheduler")),
    (["--scheduler", "tcp://127.0.0.1:1", "--tls-cert", "c.pem"], ("need a tls:// address",)),
    (["--scheduler", "tls://127.0.0.1:1", "--tls-cert", "c.pem"], ("both are needed",)),
    (["--scheduler", "tls://127.0.0.1:1", "--tls-ca-file", "nowhere.pem", "--tls-cert",
      "nowhere.pem"], ("file not found",)),
], ids=["no-scheduler", "tcp-address", "no-authority", "missing-file"])
def test_tls_options_are_checked_before_anything_runs(tmp_path, args, words):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    for command in (["run", scenario], ["compare", scenario, scenario],
                    ["sweep", scenario, "--vary", "seed=1"]):
        assert_bad_input(invoke(*command, "-q", "--out", tmp_path / "o", *args), *words)
    assert not (tmp_path / "o").exists()
