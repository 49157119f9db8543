// k8ts as a library: a cluster inside a test process (startCluster) and the client machinery its
// own components use (typed clients, informers, work queues, controllers, leader election).
export { startCluster, type Cluster, type ClusterOptions } from './embed/cluster.js';
export * from './client/index.js';
export { spec } from './client/client.js';
