"""Publishing: an edition handed to a list manager (Mailchimp, listmonk...) as a campaign."""
