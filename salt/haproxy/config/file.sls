{#- haproxy.cfg: one frontend and one backend per Consul service of pillar haproxy:services,
    whose servers are the service's SRV records as the local Consul agent answers them
    (server-template over `resolvers consul`: no other program), and the stats listener.

    The stats page's login is read from pillar secrets:haproxy:stats on the host by the
    template, so the rendered highstate carries the pillar key's name only; the file is
    root:haproxy 0640 and no diff of it is ever shown. A change is checked with `haproxy -c`
    before it is written (a configuration HAProxy rejects fails this state, not a reload);
    service/running.sls reloads HAProxy when it changed. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}
{%- from tplroot ~ "/stats.jinja" import stats_address with context %}
{%- set login_pillar = 'secrets:haproxy:stats' %}
{#- A Consul service name is a DNS label; the stats listener's name is taken. #}
{%- set name_pattern = '([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)$' %}
{%- set ports = {haproxy.stats.port: 'haproxy:stats:port'} %}
{%- set services = {} %}
{%- for name, settings in haproxy.services | dictsort %}
{%-   set key = 'haproxy:services:' ~ name %}
{%-   set service = salt['slsutil.merge'](haproxy.service_defaults, settings or {},
                                         strategy='recurse') %}
{%-   if not name | string | regex_match(name_pattern) or name == 'stats' %}
{{-     raise("pillar " ~ key ~ ": '" ~ name ~ "' is not a Consul service name the edge can "
              ~ "serve: use letters, digits and inner '-' (a DNS label), and not 'stats'") }}
{%-   endif %}
{%-   if service.port is not integer or not (1 <= service.port <= 65535) %}
{{-     raise("pillar " ~ key ~ ":port is " ~ service.port | string
              ~ ": set it to the port the edge serves " ~ name ~ " on, 1 to 65535") }}
{%-   endif %}
{%-   if service.port in ports %}
{{-     raise("pillar " ~ key ~ ":port is " ~ service.port ~ ", as is " ~ ports[service.port]
              ~ ": every frontend and the stats listener need a port of their own") }}
{%-   endif %}
{%-   do ports.update({service.port: key ~ ':port'}) %}
{%-   if service.mode not in ('http', 'tcp') %}
{{-     raise("pillar " ~ key ~ ":mode is '" ~ service.mode ~ "': set it to http or tcp") }}
{%-   endif %}
{%-   if service.slots is not integer or service.slots < 1 %}
{{-     raise("pillar " ~ key ~ ":slots is " ~ service.slots | string ~ ": set it to the most "
              ~ "instances of " ~ name ~ " that receive traffic, a positive integer") }}
{%-   endif %}
{%-   do services.update({name: service}) %}
{%- endfor %}
{%- if haproxy.stats.enabled %}
{%-   set login = salt['pillar.get'](login_pillar, {}) %}
{%-   if not (login.get('user') and login.get('password')) %}
{{-     raise("pillar " ~ login_pillar ~ ":user or :password is missing: make the site's "
              ~ "secrets with `scripts/secrets init pillar` (a re-run adds only what is "
              ~ "missing), or set pillar haproxy:stats:enabled: false") }}
{%-   endif %}
{#-   Neither may end a keyword's argument early in haproxy.cfg; the password is not shown. #}
{%-   if not login.user | string | regex_match('([A-Za-z0-9._-]+)$') %}
{{-     raise("pillar " ~ login_pillar ~ ":user is '" ~ login.user ~ "': use letters, digits, "
              ~ "'.', '_' and '-' only") }}
{%-   endif %}
{%-   if not login.password | string | regex_match('([A-Za-z0-9._~+/=-]+)$') %}
{{-     raise("pillar " ~ login_pillar ~ ":password has characters haproxy.cfg cannot hold "
              ~ "as they are (space, ':', '#', quotes, '\\'): delete it and let "
              ~ "`scripts/secrets init pillar` make a new one") }}
{%-   endif %}
{%- endif %}

include:
  - {{ sls_install }}

haproxy-config-file-file-managed:
  file.managed:
    - name: {{ haproxy.config_file }}
    - source: salt://{{ tplroot }}/files/haproxy.cfg.jinja
    - template: jinja
    - context:
        config:
          global: {{ haproxy.global | json }}
          defaults: {{ haproxy.defaults | json }}
          bind_address: {{ haproxy.bind_address | json }}
          consul: {{ haproxy.consul | json }}
          resolvers: {{ haproxy.resolvers | json }}
          services: {{ services | json }}
          stats: {{ salt['slsutil.merge'](haproxy.stats, {
                      'bind_address': stats_address,
                      'login_pillar': login_pillar if haproxy.stats.enabled else '',
                    }) | json }}
    - user: root
    - group: {{ haproxy.group }}
    - mode: '0640'
    - show_changes: False
    - check_cmd: {{ haproxy.bin }} -c -f
    - require:
      - sls: {{ sls_install }}
