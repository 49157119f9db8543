// Server-side printer columns (kubectl get) for flowcontrol.apiserver.k8s.io/v1, as upstream's
// printers: a FlowSchema's MISSINGPL is its Dangling condition's status ("?" before the
// configuration controller has looked), a PriorityLevelConfiguration's queuing figures are
// <none> for an exempt level and for one that rejects instead of queuing.
import type { FlowSchema, PriorityLevelConfiguration } from 'kubernetes-types/flowcontrol/v1.js';
import type { TableColumn } from '../../types.js';
import { NONE, ageColumn, nameColumn } from '../../printing.js';

export const flowSchemaColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'PriorityLevel',
    type: 'string',
    description: 'The priority level the matched requests are assigned to.',
    cell: (o: FlowSchema) => o.spec?.priorityLevelConfiguration?.name ?? '',
  },
  {
    name: 'MatchingPrecedence',
    type: 'string',
    description: 'Lower values are matched first.',
    cell: (o: FlowSchema) => o.spec?.matchingPrecedence ?? 0,
  },
  {
    name: 'DistinguisherMethod',
    type: 'string',
    description: 'How requests are split into flows (ByUser, ByNamespace).',
    cell: (o: FlowSchema) => o.spec?.distinguisherMethod?.type ?? NONE,
  },
  ageColumn(),
  {
    name: 'MissingPL',
    type: 'string',
    description: 'Whether the referenced priority level is missing (the Dangling condition).',
    cell: (o: FlowSchema) => o.status?.conditions?.find((c) => c.type === 'Dangling')?.status ?? '?',
  },
];

export const priorityLevelColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Type',
    type: 'string',
    description: 'Exempt or Limited.',
    cell: (o: PriorityLevelConfiguration) => o.spec?.type ?? '',
  },
  {
    name: 'NominalConcurrencyShares',
    type: 'string',
    description: "The level's share of the server's concurrency.",
    cell: (o: PriorityLevelConfiguration) => o.spec?.limited?.nominalConcurrencyShares ?? NONE,
  },
  {
    name: 'Queues',
    type: 'string',
    description: 'Number of queues.',
    cell: (o: PriorityLevelConfiguration) => o.spec?.limited?.limitResponse?.queuing?.queues ?? NONE,
  },
  {
    name: 'HandSize',
    type: 'string',
    description: 'Queues a flow is shuffle-sharded to.',
    cell: (o: PriorityLevelConfiguration) => o.spec?.limited?.limitResponse?.queuing?.handSize ?? NONE,
  },
  {
    name: 'QueueLengthLimit',
    type: 'string',
    description: 'Requests a queue may hold.',
    cell: (o: PriorityLevelConfiguration) => o.spec?.limited?.limitResponse?.queuing?.queueLengthLimit ?? NONE,
  },
  ageColumn(),
];
