variable "project_name" {
  description = "Simple Log Service project. Project names are unique per region across all accounts: include something of yours (the stack module adds the account id)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.project_name))
    error_message = "An SLS project name is 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "logstore_name" {
  description = "Logstore the function's logs go to."
  type        = string
  default     = "linebot"
}

variable "retention_days" {
  description = "How long the logstore keeps logs (1-3650 days; 3650 keeps them for good)."
  type        = number
  default     = 14

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 3650
    error_message = "retention_days must be between 1 and 3650."
  }
}

variable "description" {
  description = "Description of the SLS project."
  type        = string
  default     = "Logs of the linebot LINE chatbot (Function Compute)"
}
