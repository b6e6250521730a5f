{#- Mesos by the method in pillar mesos:install:method: package (AVENTER's repository; every
    URL and key is overridable in mesos:install:package:repo) or none (the binaries at
    mesos:install:none:master_bin / agent_bin are provided by other means, or absent: then the
    services are defined and left stopped). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}

{%- if mesos.install.method == 'package' %}

include:
  - {{ tplroot }}.install.package
{%- else %}

mesos-install-test-show-notification-none:
  test.show_notification:
    - text: >-
        Mesos install method none: {{ mesos.install.none.master_bin }} and
        {{ mesos.install.none.agent_bin }} are provided by other means
{%- endif %}
