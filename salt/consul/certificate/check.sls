{#- The node check tls-certificate-expiry, where the site's agents have certificates (from
    security stage accept): a script check, run by the agent from its own configuration only
    (enable_local_script_checks), that prints the certificate's end date and exits 1 (Consul's
    warning) from consul:tls:expiry_check:warning_days before it. Any failure to read the
    certificate is a warning too, never critical: a critical node check would take every
    service of the node out of DNS. It starts passing, and runs every interval. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- from tplroot ~ "/macros.jinja" import consul_check, consul_definition_absent with context %}
{%- set check = consul.tls.expiry_check %}
{%- set check_id = 'tls-certificate-expiry' %}

include:
  - {{ tplroot }}.service.running
{%- if salt['quorum.plan']().security.tls %}

consul-certificate-check-pkg-installed:
  pkg.installed:
    - name: openssl
{%-   set script = 'openssl x509 -noout -enddate -in "$0" && openssl x509 -noout -checkend "$1" -in "$0" || exit 1' %}
{{ consul_check('consul-certificate-check', {
    'id': check_id,
    'name': 'TLS certificate expiry',
    'notes': 'Warning from ' ~ check.warning_days ~ ' days before the agent certificate '
             ~ 'expires: run the highstate, which renews it 60 days ahead.',
    'args': ['/bin/sh', '-c', script, consul.tls.directory ~ '/agent.pem',
             (check.warning_days * 86400) | string],
    'interval': check.interval,
    'timeout': '10s',
    'status': 'passing',
  }) }}
{%- else %}
{{ consul_definition_absent('consul-certificate-check', check_id, 'check') }}
{%- endif %}
