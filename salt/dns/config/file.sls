{#- dnsmasq's configuration, written BEFORE the package is installed: Debian's package starts
    dnsmasq at once, and with its stock configuration (every interface, port 53) that start
    fails on hosts where another resolver holds port 53 on some address.

    The upstream nameservers are the host's original ones: /etc/resolv.conf is copied once to
    /etc/resolv.conf.upstream, before the resolver state points it at dnsmasq, and never when
    it already points there. With pillar dns:upstream_nameservers, dnsmasq uses those instead. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import dns with context %}
{%- set resolv_conf = dns.resolv_conf %}
{%- set plan = salt['quorum.plan']() %}
{#- The datacenter's Consul servers answer *.consul too (on their LAN address): dnsmasq asks
    them while the host's own agent does not answer, as during its restart. #}
{%- set consul_servers = plan.lan_peers | reject('equalto', plan.host.address) | list %}
{#- The checks below run inside the host's Salt (file.search), not as a shell command: a
    no-op run costs nothing for them. #}
{%- set points_at_dnsmasq = {
      'fun': 'file.search',
      'path': resolv_conf.path,
      'pattern': '^[ \\t]*nameserver[ \\t]+' ~ dns.listen_address | replace('.', '[.]')
                 ~ '([ \\t]|$)',
      'multiline': True,
      'ignore_if_missing': True,
    } %}

dns-config-file-file-copy-upstream:
  file.copy:
    - name: {{ resolv_conf.upstream }}
    - source: {{ resolv_conf.path }}
    - force: False
    - user: root
    - group: root
    - mode: '0644'
    - unless:
      - {{ points_at_dnsmasq | json }}

{%- if not dns.upstream_nameservers %}

dns-config-file-test-fail-without-changes-upstream:
  test.fail_without_changes:
    - name: >-
        {{ resolv_conf.path }} already points at {{ dns.listen_address }} and
        {{ resolv_conf.upstream }} does not exist, so the upstream nameservers are unknown:
        put the host's original nameservers back into {{ resolv_conf.path }}, or list them
        in pillar dns:upstream_nameservers
    - onlyif:
      - {{ points_at_dnsmasq | json }}
    - unless:
      - fun: file.search
        path: {{ resolv_conf.upstream }}
        pattern: nameserver
        ignore_if_missing: True
    - require:
      - file: dns-config-file-file-copy-upstream
{%- endif %}

dns-config-file-file-managed:
  file.managed:
    - name: {{ dns.config_file }}
    - source: salt://{{ tplroot }}/files/dnsmasq.conf.jinja
    - template: jinja
    - context:
        config:
          listen_address: {{ dns.listen_address }}
          consul: {{ dns.consul | json }}
          consul_servers: {{ consul_servers | json }}
          upstream_nameservers: {{ dns.upstream_nameservers | json }}
          resolv_file: {{ resolv_conf.upstream }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require:
      - file: dns-config-file-file-copy-upstream
