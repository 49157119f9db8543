// A custom resource's schema for the managedFields tests, with every kind of value field
// management treats differently: an associative list keyed by two fields (one defaulted in the
// schema), a set, an atomic list and map, free-form and int-or-string values, an embedded
// resource, a map of integers, and a status with an associative list.
import type { JSONSchemaProps } from '../../src/machinery/crdschema/schema.js';

/** The schema (a new copy each call: callers may add to it). */
export function widgetSchema(): JSONSchemaProps {
  return {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          ports: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['name', 'protocol'],
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                protocol: { type: 'string', default: 'UDP' },
                port: { type: 'integer' },
              },
              required: ['name'],
            },
          },
          tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
          plain: { type: 'array', items: { type: 'string' } },
          selector: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
          config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          size: { 'x-kubernetes-int-or-string': true },
          template: {
            type: 'object',
            'x-kubernetes-embedded-resource': true,
            'x-kubernetes-preserve-unknown-fields': true,
          },
          nested: {
            type: 'object',
            properties: { inner: { type: 'object', additionalProperties: { type: 'integer' } } },
          },
        },
      },
      status: {
        type: 'object',
        properties: {
          ready: { type: 'boolean' },
          conditions: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['type'],
            items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' } } },
          },
        },
      },
    },
  };
}
