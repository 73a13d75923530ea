"""The antone.infra.cloudflare_tunnel module's documentation.

The work is done on the controller by the action plugin of the same name (plugins/action/cloudflare_tunnel.py)
with plugins/plugin_utils/cloudflare_tunnel.py: no module process runs, on the controller or on a host.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_tunnel
author: antone.infra developers (@antone)
version_added: "0.1.0"
short_description: A remotely managed Cloudflare Tunnel, its ingress rules and its DNS records
description:
  - Finds the Cloudflare Tunnel named O(name) in the account (deleted tunnels are ignored, every page of
    the listing is read), creates it with C(config_src=cloudflare) when it is missing, puts its ingress
    rules when they differ from O(ingress), and reads its connector token.
  - With O(dns=true), each ingress hostname gets a proxied CNAME to C(<tunnel id>.cfargotunnel.com);
    a CNAME that points elsewhere or is not proxied is corrected. A record of another type (A, AAAA, ...)
    on the hostname is never touched; the module fails and names it.
  - O(state=absent) deletes the tunnel (after cleaning up its connections) and the CNAMEs in the zone
    that point at it.
  - The input is checked before any request is made. Hostnames outside the zone, services with an
    unknown scheme, and a catch-all rule that is not last are refused.
  - "An API failure ends the task with Cloudflare's codes and messages, for example
    C(Cloudflare API GET /accounts/.../cfd_tunnel: 10000 Authentication error); the API token never
    appears in the output."
  - Runs on the controller, in the task's own worker (an action plugin; no module process is started, so a
    call costs little besides Cloudflare's answers), whatever host the task targets, so the API token never
    reaches a managed host. Uses only Python's urllib (proxies from the environment, certificates
    verified); the controller needs no extra Python package.
options:
  api_url:
    description: The base of Cloudflare's v4 API (a test stand-in may be given here).
    type: str
    default: https://api.cloudflare.com/client/v4
  api_token:
    description:
      - An API token with Account > Cloudflare Tunnel > Edit and, for O(dns=true), Zone > DNS > Edit.
    type: str
    required: true
  account_id:
    description: The account that owns the tunnel.
    type: str
    required: true
  zone:
    description:
      - The zone's name (C(example.com)). Needed for O(dns=true) unless O(zone_id) is given; with it,
        hostnames outside the zone are refused before any request.
    type: str
  zone_id:
    description:
      - The zone's id, which saves the zone lookup. With O(zone_id) only, the hostnames are checked
        against the zone's name once the zone has been read, still before any change.
    type: str
  name:
    description: The tunnel's name, unique among the account's tunnels that are not deleted.
    type: str
    required: true
  ingress:
    description:
      - The ingress rules, in order (the first match wins). A catch-all C({service = http_status:404})
        is appended when the last rule has a hostname or a path.
      - Allowed services are C(http://), C(https://), C(tcp://), C(ssh://), C(rdp://), C(smb://),
        C(unix:), C(unix+tls:), C(http_status:NNN), C(hello_world) and C(bastion).
    type: list
    elements: dict
    default: []
    suboptions:
      hostname:
        description: The public hostname, inside the zone (C(*.example.com) is allowed).
        type: str
      service:
        description: Where cloudflared sends the traffic, for example C(http://dashboard:3000).
        type: str
        required: true
      path:
        description: A regular expression the request path must match.
        type: str
      originRequest:
        description: cloudflared's origin settings for this rule (for example C(noTLSVerify)).
        type: dict
  dns:
    description:
      - Manage a proxied CNAME C(<hostname> -> <tunnel id>.cfargotunnel.com) for each ingress hostname
        (wildcard hostnames included).
    type: bool
    default: true
  access:
    description:
      - Cloudflare Access in front of ingress hostnames, so that only the listed people get through (for
        example the dashboard). Each entry becomes a self-hosted Access application for the hostname, named
        C(<name> <hostname>), with one policy, C(allow listed emails), that includes exactly these addresses.
      - Applications named C(<name> ...) whose hostname is no longer listed are deleted; applications
        made by anyone else are never touched. The API token then also needs Account > Access (Apps and
        Policies) > Edit.
    type: list
    elements: dict
    default: []
    suboptions:
      hostname:
        description: An ingress hostname.
        type: str
        required: true
      emails:
        description: The email addresses allowed in (compared without regard to case or order).
        type: list
        elements: str
        required: true
      session_duration:
        description: How long a login lasts (a Go duration such as C(24h) or C(30m)).
        type: str
        default: 24h
  state:
    description: >-
      C(present) makes the tunnel match; C(absent) deletes it, the CNAMEs that point at it and its
      Access applications.
    type: str
    choices: [present, absent]
    default: present
  return_token:
    description:
      - Return the connector token (RV(token)), which C(cloudflared tunnel run --token) needs.
      - The task must then have C(no_log=true), or the module fails before any request. A task cannot
        hide one key of its result (a value masked in the result would come back masked, useless to the
        caller), so the task's no_log does it. Ansible shows that the result was hidden, at any verbosity, while
        C(register) still receives the token. Keep such a task apart from the one whose diff you want.
    type: bool
    default: false
  known_token_sha256:
    description:
      - The SHA-256 (hex) of the token the connector currently uses. When given, RV(token_changed) says
        whether Cloudflare's token differs from it (after a rotation, for example).
    type: str
notes:
  - Check mode computes and reports the changes without making any; diff mode shows the ingress rules and
    the DNS records before and after.
  - RV(connections) lists the tunnel's current connections (client id, origin IP, colo); the module does not
    judge them. A caller that expects one connector can fail when a foreign origin IP shows up.
  - Tunnel listings are read with C(per_page=50) until C(result_info.total_pages); DNS listings likewise.
  - A proxy is taken from the controller's environment (C(https_proxy), C(no_proxy)), as Python's urllib reads
    it; the task's C(environment) keyword does not reach the call, which runs in the controller's process.
"""

EXAMPLES = r"""
- name: Register the tunnel, its ingress and its DNS records
  antone.infra.cloudflare_tunnel:
    account_id: "{{ cloudflare_account_id }}"
    zone: example.com
    api_token: "{{ vault_cloudflare_api_token }}"
    name: antone-prod
    ingress:
      - hostname: app.example.com
        service: http://dashboard:3000
      - hostname: api.example.com
        service: http://backend-api:8000
        originRequest:
          connectTimeout: 10s
    access:
      - hostname: app.example.com
        emails: [owner@example.com]
  register: cloudflare_tunnel

- name: Fetch the connector token (the task's output is hidden; the registered value holds it)
  antone.infra.cloudflare_tunnel:
    account_id: "{{ cloudflare_account_id }}"
    zone: example.com
    api_token: "{{ vault_cloudflare_api_token }}"
    name: antone-prod
    ingress: "{{ cloudflare_ingress }}"
    return_token: true
  register: cloudflare_tunnel_token
  no_log: true

- name: Remove the tunnel and its CNAMEs
  antone.infra.cloudflare_tunnel:
    account_id: "{{ cloudflare_account_id }}"
    zone: example.com
    api_token: "{{ vault_cloudflare_api_token }}"
    name: antone-old
    state: absent
"""

RETURN = r"""
tunnel_id:
  description: The tunnel's id (none when it does not exist, or would only be created in check mode).
  type: str
  returned: always
tunnel_name:
  description: The tunnel's name.
  type: str
  returned: always
created:
  description: Whether the tunnel was (or, in check mode, would be) created.
  type: bool
  returned: always
deleted:
  description: Whether the tunnel was (or would be) deleted.
  type: bool
  returned: always
ingress:
  description: The ingress rules as the module wants them, catch-all included (empty for O(state=absent)).
  type: list
  elements: dict
  returned: always
dns_records:
  description: >-
    What happened to each DNS record (name, type, content, proxied, id and action
    (C(none), C(create), C(update) or C(delete))).
  type: list
  elements: dict
  returned: always
access_apps:
  description: >-
    What happened to each Access application (hostname, id, emails, session_duration and action
    (C(none), C(create), C(update) or C(delete))).
  type: list
  elements: dict
  returned: always
connections:
  description: The tunnel's connections, each with client_id, origin_ip, colo_name, opened_at, client_version.
  type: list
  elements: dict
  returned: always
token:
  description: The connector token (the task must have C(no_log=true)).
  type: str
  returned: when O(return_token=true) and the tunnel exists
token_sha256:
  description: The SHA-256 (hex) of the connector token, to notice a rotation without handling the token.
  type: str
  returned: when O(state=present) and the tunnel exists
token_changed:
  description: Whether the token differs from O(known_token_sha256).
  type: bool
  returned: when O(known_token_sha256) is given and the tunnel exists
"""
