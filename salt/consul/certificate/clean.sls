{#- Removes the certificate expiry check (certificate/check.sls). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/macros.jinja" import consul_definition_absent with context %}
{{ consul_definition_absent('consul-certificate-clean', 'tls-certificate-expiry', 'check') }}
