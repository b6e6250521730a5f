{#- A Mesos agent on a compute node, registered with the datacenter's leading master. #}
{%- set tplroot = tpldir.split('/')[0] %}

include:
  - {{ tplroot }}.install
  - {{ tplroot }}.config.agent
  - {{ tplroot }}.service.agent
  - {{ tplroot }}.consul.agent
