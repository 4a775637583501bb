package store

import "strings"

// Status is an account's standing as stored (social_accounts.status).
type Status string

// Account statuses.
const (
	StatusActive      Status = "active"
	StatusLimited     Status = "limited"
	StatusNeedsReauth Status = "needs_reauth"
)

// CheckOutcome is an account's last check as stored (last_outcome): a kind,
// followed for a failure by a colon and the platform's code
// ("transient:http_503"). Build a failure's with Because; read with Kind
// and Code.
type CheckOutcome string

// CheckOutcome kinds.
const (
	OutcomeRefreshed     CheckOutcome = "refreshed"     // new tokens stored
	OutcomeChecked       CheckOutcome = "checked"       // tokens validated
	OutcomeReconnected   CheckOutcome = "reconnected"   // a person signed in again
	OutcomeDeauthorized  CheckOutcome = "deauthorized"  // the app was removed at the platform
	OutcomeTransient     CheckOutcome = "transient"     // a temporary failure, retried
	OutcomePermanent     CheckOutcome = "permanent"     // the platform refused the account
	OutcomeMisconfigured CheckOutcome = "misconfigured" // the platform refused the app
)

// Because is the outcome of kind o with the platform's code.
func (o CheckOutcome) Because(code string) CheckOutcome { return o + ":" + CheckOutcome(code) }

// Kind is the outcome without its code.
func (o CheckOutcome) Kind() CheckOutcome {
	kind, _, _ := strings.Cut(string(o), ":")
	return CheckOutcome(kind)
}

// Code is the platform's code of a failure; "" when there is none.
func (o CheckOutcome) Code() string {
	_, code, _ := strings.Cut(string(o), ":")
	return code
}

// Purpose is what an authorization was started for (oauth_flows.purpose).
type Purpose string

// Flow purposes.
const (
	PurposeConnect   Purpose = "connect"   // a new connection
	PurposeReconnect Purpose = "reconnect" // renew an account's tokens
	PurposeRerequest Purpose = "rerequest" // ask again for permissions it lacks
)

// Role is a person's part in a workspace (memberships.role), from most to
// least powerful.
type Role string

// Roles.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)
