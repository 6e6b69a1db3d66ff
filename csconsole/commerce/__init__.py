"""Money and parcels: refund and return policy, and the store actions of the outbox."""
