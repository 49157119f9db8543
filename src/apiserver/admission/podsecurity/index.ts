// Pod Security Admission: the built-in PodSecurity plugin and the Pod Security Standards checks.
export { PodSecurity, type PodSecurityDeps } from './plugin.js';
export {
  defaultPodSecurityConfiguration,
  loadPodSecurityConfiguration,
  parsePodSecurityConfiguration,
  type PodSecurityConfiguration,
} from './config.js';
export { evaluatePod, describeViolations, type LevelVersion } from './policy.js';
