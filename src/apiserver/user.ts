// Who a request comes from, once authenticated (client certificate, token).
export interface UserInfo {
  name: string;
  groups: string[];
  uid?: string;
  /** Extra attributes (an impersonator's Impersonate-Extra-* headers). */
  extra?: Record<string, string[]>;
}
