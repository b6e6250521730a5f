{#- Marathon by the method in pillar marathon:install:method: archive (a pillar-given tarball,
    hash-checked), package (a pillar-given repository, or one the host has) or none (the
    launcher at marathon:install:none:bin is provided by other means, or absent: then the
    service is defined and left stopped). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}

{%- if marathon.install.method != 'none' %}

include:
  - {{ tplroot }}.install.{{ marathon.install.method }}
{%- else %}

marathon-install-test-show-notification-none:
  test.show_notification:
    - text: >-
        Marathon install method none: {{ marathon.install.none.bin }} is provided by other
        means
{%- endif %}
