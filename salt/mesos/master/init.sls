{#- A Mesos master on a control node: HA through the datacenter's ZooKeeper ensemble. #}
{%- set tplroot = tpldir.split('/')[0] %}

include:
  - {{ tplroot }}.install
  - {{ tplroot }}.config.master
  - {{ tplroot }}.service.master
  - {{ tplroot }}.consul.master
