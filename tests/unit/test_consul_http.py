"""From a Consul URL to py-consul's host, port and scheme (``_utils/_consul_http.py``, shared by
the Salt modules' client and the registrator)."""

import importlib.util
from pathlib import Path

import pytest

MODULE_PATH = Path(__file__).resolve().parents[2] / "_utils" / "_consul_http.py"
_spec = importlib.util.spec_from_file_location("consul_http", MODULE_PATH)
consul_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(consul_http)


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://127.0.0.1:8500", ("http", "127.0.0.1", 8500)),
        ("http://10.0.1.11", ("http", "10.0.1.11", 8500)),
        ("https://consul.example:8501", ("https", "consul.example", 8501)),
        ("https://10.0.1.11", ("https", "10.0.1.11", 443)),
        ("http://[::1]:8500", ("http", "[::1]", 8500)),
        ("https://[2001:db8::11]", ("https", "[2001:db8::11]", 443)),
    ],
)
def test_an_ipv6_host_keeps_its_brackets_and_a_missing_port_is_the_schemes(url, endpoint):
    assert consul_http.endpoint(url) == endpoint


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:8500", "not of the form"),
        ("consul://127.0.0.1:8500", "not of the form"),
        ("http://:8500", "not of the form"),
        ("http://127.0.0.1:85x0", "invalid port"),
        ("http://[::1]:99999", "invalid port"),
    ],
)
def test_a_url_that_is_not_http_host_port_is_refused(url, message):
    with pytest.raises(ValueError, match=message):
        consul_http.endpoint(url)
