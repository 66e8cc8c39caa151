//! How a client proves who it is to NATS and secures its connection: user and password, a
//! credentials file (JWT and nkey seed), TLS with a private CA and a client certificate.
//! Each option names the command-line flag that sets it, so errors can name the fix.

use std::path::PathBuf;

/// Credentials and TLS settings for the NATS connection (all optional).
#[derive(Clone, Default)]
pub struct Access {
    /// User name (`--nats-user`).
    pub user: Option<String>,
    /// Password (`--nats-password`, or `WASMHUB_NATS_PASSWORD`); never printed.
    pub password: Option<String>,
    /// A credentials file: JWT and nkey seed (`--nats-creds`).
    pub creds: Option<PathBuf>,
    /// A CA certificate (PEM) the server's certificate must chain to (`--nats-tls-ca`).
    pub tls_ca: Option<PathBuf>,
    /// A client certificate (PEM) for servers that verify clients (`--nats-tls-cert`).
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM) (`--nats-tls-key`).
    pub tls_key: Option<PathBuf>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("creds", &self.creds)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

impl Access {
    /// Whether any TLS option is set (then TLS is required).
    pub fn uses_tls(&self) -> bool {
        self.tls_ca.is_some() || self.tls_cert.is_some() || self.tls_key.is_some()
    }

    /// The flags that set this client's identity, for an error when the server refuses it.
    pub fn identity_flags(&self) -> &'static str {
        match (&self.user, &self.creds) {
            (_, Some(_)) => "--nats-creds",
            (Some(_), None) => "--nats-user/--nats-password",
            (None, None) => {
                "no credentials were given: pass --nats-user and --nats-password (or WASMHUB_NATS_PASSWORD), or --nats-creds"
            }
        }
    }

    /// Every file these settings name, each with the flag that named it.
    pub fn files(&self) -> Vec<(&'static str, &PathBuf)> {
        [
            ("--nats-creds", &self.creds),
            ("--nats-tls-ca", &self.tls_ca),
            ("--nats-tls-cert", &self.tls_cert),
            ("--nats-tls-key", &self.tls_key),
        ]
        .into_iter()
        .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
        .collect()
    }

    /// `options` with these settings applied (a credentials file is read here).
    pub(crate) async fn apply(
        &self,
        mut options: async_nats::ConnectOptions,
    ) -> Result<async_nats::ConnectOptions, (&'static str, PathBuf, std::io::Error)> {
        for (flag, path) in self.files() {
            if let Err(e) = std::fs::metadata(path) {
                return Err((flag, path.clone(), e));
            }
        }
        if let Some(user) = &self.user {
            options =
                options.user_and_password(user.clone(), self.password.clone().unwrap_or_default());
        }
        if let Some(creds) = &self.creds {
            options = options
                .credentials_file(creds)
                .await
                .map_err(|e| ("--nats-creds", creds.clone(), e))?;
        }
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if self.uses_tls() {
            options = options.require_tls(true);
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_in_debug_output() {
        let a = Access {
            user: Some("deployer".into()),
            password: Some("s3cret-pw".into()),
            ..Access::default()
        };
        let shown = format!("{a:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("(hidden)"), "{shown}");
    }

    #[test]
    fn refusals_name_the_flags_that_were_used() {
        let mut a = Access::default();
        assert!(a.identity_flags().contains("--nats-user"));
        a.user = Some("u".into());
        assert_eq!(a.identity_flags(), "--nats-user/--nats-password");
        a.creds = Some("x.creds".into());
        assert_eq!(a.identity_flags(), "--nats-creds");
    }
}
