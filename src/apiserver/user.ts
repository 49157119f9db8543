// Who a request comes from, once authenticated (client certificate, token).
export interface UserInfo {
  name: string;
  groups: string[];
  uid?: string;
}
