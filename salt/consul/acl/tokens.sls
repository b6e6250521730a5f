{#- The platform's ACL policies and tokens (consul:acl:policies and :tokens), made through the
    API with the management token by the first control node of the primary datacenter, once
    the ACL system answers: every token with the AccessorID and SecretID of pillar
    secrets:consul:acl:tokens, so that a re-run finds it and makes no second one; and every
    agent's own token (its node identity) for each agent the plan knows, with ids derived from
    pillar secrets:consul:acl:agent_seed and the node's name. The anonymous token gets the
    policy of what DNS answers.

    From the stage where tokens are in use (plan.security.tokens_in_use), every host waits
    until the tokens it may present are known to Consul: on a new site every host converges at
    once, and a token Consul does not know yet is refused even under default allow. Nothing
    here before the stage that switches ACLs on. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_running = tplroot ~ '.service.running' %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set acl = consul.acl %}
{%- set token_pillar = 'secrets:consul:acl:tokens:{}:{}' %}
{%- set makes_tokens = plan.security.tls and plan.is_control
      and plan.datacenter == plan.primary_datacenter
      and plan.members[0].id == plan.host.id %}

{%- if plan.security.tls %}

include:
  - {{ sls_service_running }}
{%- endif %}

{%- if plan.security.tls and plan.is_control %}

{#- The leader made the management token when ACLs came on (its initial management token);
    servers restarting one at a time may take a while to get there. Until then no server
    answers a request of Salt's: every server waits. #}
consul-acl-tokens-consul-acl-token-usable-management:
  consul_acl.token_usable:
    - name: management
    - secret_id_pillar: secrets:consul:acl:management:secret_id
    - timeout: {{ acl.token_wait }}
    - require:
      - consul_cluster: consul-service-running-consul-cluster-leader-elected
{%- endif %}
{%- if makes_tokens %}
{%-   for name, policy in acl.policies | dictsort %}

consul-acl-tokens-consul-acl-policy-present-{{ name }}:
  consul_acl.policy_present:
    - name: {{ name }}
    - rules: {{ policy.rules | json }}
    - description: {{ policy.description | json }}
    - require:
      - consul_acl: consul-acl-tokens-consul-acl-token-usable-management
{%-   endfor %}
{%-   for name, policies in acl.tokens | dictsort %}

consul-acl-tokens-consul-acl-token-present-{{ name }}:
  consul_acl.token_present:
    - name: 'platform {{ name }}'
    - accessor_id: {{ salt['pillar.get'](token_pillar.format(name, 'accessor_id')) | json }}
    - secret_id_pillar: {{ token_pillar.format(name, 'secret_id') }}
    - policies: {{ policies | json }}
    - require:
{%-     for policy in policies %}
      - consul_acl: consul-acl-tokens-consul-acl-policy-present-{{ policy }}
{%-     endfor %}
{%-   endfor %}

{%-   for agent in plan.agents %}

consul-acl-tokens-consul-acl-agent-token-present-{{ agent.id }}:
  consul_acl.agent_token_present:
    - name: {{ agent.id }}
    - datacenter: {{ agent.datacenter }}
    - require:
      - consul_acl: consul-acl-tokens-consul-acl-token-usable-management
{%-   endfor %}

{%-   if plan.security.tokens_in_use %}

{#- Only once every program presents its own token: the anonymous token's read-only rules
    would otherwise deny them what default allow still grants. #}
consul-acl-tokens-consul-acl-token-present-anonymous:
  consul_acl.token_present:
    - name: Anonymous Token
    - accessor_id: 00000000-0000-0000-0000-000000000002
    - policies: {{ acl.anonymous | json }}
    - require:
{%-   for policy in acl.anonymous %}
      - consul_acl: consul-acl-tokens-consul-acl-policy-present-{{ policy }}
{%-   endfor %}
{%-   endif %}
{%- endif %}
{%- if plan.security.tokens_in_use %}

consul-acl-tokens-consul-acl-agent-token-usable:
  consul_acl.agent_token_usable:
    - name: {{ plan.host.id }}
    - timeout: {{ acl.token_wait }}
    - require:
      - consul_cluster: consul-service-running-consul-cluster-leader-elected
{%-   if makes_tokens %}
      - consul_acl: consul-acl-tokens-consul-acl-agent-token-present-{{ plan.host.id }}
{%-   endif %}
{%-   for name in acl.tokens | sort %}

consul-acl-tokens-consul-acl-token-usable-{{ name }}:
  consul_acl.token_usable:
    - name: {{ name }}
    - secret_id_pillar: {{ token_pillar.format(name, 'secret_id') }}
    - timeout: {{ acl.token_wait }}
    - require:
      - consul_cluster: consul-service-running-consul-cluster-leader-elected
{%-     if makes_tokens %}
      - consul_acl: consul-acl-tokens-consul-acl-token-present-{{ name }}
{%-     endif %}
{%-   endfor %}
{%- endif %}
