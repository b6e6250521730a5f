{#- Containers cannot reach the host's loopback, where the dns formula's dnsmasq listens, so
    a drop-in makes dnsmasq also listen on the bridge address that daemon.json gives the
    containers as their nameserver; dnsmasq restarts to apply it (dns formula).

    The bridge must exist when dnsmasq binds: the engine runs before the drop-in is written.
    At boot that holds only if dnsmasq runs with bind-dynamic (it binds addresses as they
    appear); with bind-interfaces it refuses to start while the bridge is missing. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_running = tplroot ~ '.service.running' %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

include:
  - dns.service.running
  - {{ sls_service_running }}

{%- if docker.resolver.enabled %}

docker-resolver-bridge-file-managed:
  file.managed:
    - name: {{ docker.resolver.config_file }}
    - contents: |
        # Managed by Salt (docker formula): local changes are overwritten.
        # Containers use the docker bridge's address as their nameserver.
        listen-address={{ docker.bridge.address.split('/')[0] }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - service: docker-service-running-service-running
    - watch_in:
      - service: dns-service-running-service-running
{%- else %}

docker-resolver-bridge-file-absent:
  file.absent:
    - name: {{ docker.resolver.config_file }}
    - watch_in:
      - service: dns-service-running-service-running
{%- endif %}
