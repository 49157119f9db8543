// Client machinery used by every k8ts component: transports, typed clients, informers, work
// queues, controller runners and leader election.
export * from './types.js';
export * from './errors.js';
export { Client, ResourceClient, R } from './client.js';
export { HttpsTransport, type HttpsOptions } from './https.js';
export { loadKubeconfig, type ClientConfig } from './kubeconfig.js';
export * from './informer.js';
export * from './workqueue.js';
export * from './controller.js';
export * from './leaderelection.js';
