/** What Envoy POSTs to /v3/discovery:endpoints (no file access: unit tests import it too). */
import { EDS_TYPE_URL } from '../../src/selection/eds.js';

/** A poll as Envoy sends it (preserve_proto_field_names: snake_case), node trimmed. */
export const ENVOY_POLL = {
  version_info: '',
  node: {
    id: 'front-1',
    cluster: 'front',
    user_agent_name: 'envoy',
    user_agent_build_version: { version: { major_number: 1, minor_number: 31 } },
    client_features: ['envoy.lb.does_not_support_overprovisioning'],
  },
  resource_names: ['api'],
  type_url: EDS_TYPE_URL,
};
