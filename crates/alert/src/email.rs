//! Email over SMTP with lettre: a pooled tokio transport, plain SMTP or
//! STARTTLS (rustls with ring, webpki roots), and the message built from the
//! [`payload`](crate::payload) texts.

use crate::config::EmailConfig;
use crate::error::{DeliveryError, SetupError};
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// A configured relay.
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    relay: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    html: bool,
}

impl Mailer {
    /// Builds the transport; nothing is sent or connected yet.
    pub(crate) fn new(config: &EmailConfig, timeout: Duration) -> Result<Self, SetupError> {
        let relay = format!("{}:{}", config.smtp_host, config.smtp_port);
        let smtp = |source| SetupError::Smtp {
            relay: relay.clone(),
            source,
        };
        let builder = if config.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.smtp_host).map_err(smtp)?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host)
        };
        let mut builder = builder.port(config.smtp_port).timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let address = |key: &'static str, index: Option<usize>, text: &String| {
            text.parse::<Mailbox>().map_err(|_| {
                SetupError::Config(crate::config::ConfigError::EmailAddress {
                    key,
                    index,
                    address: text.clone(),
                })
            })
        };
        Ok(Mailer {
            transport: builder.build(),
            relay,
            from: address("from", None, &config.from)?,
            to: config
                .to
                .iter()
                .enumerate()
                .map(|(i, t)| address("to", Some(i), t))
                .collect::<Result<_, _>>()?,
            html: config.html,
        })
    }

    /// The relay, as host:port.
    pub(crate) fn relay(&self) -> &str {
        &self.relay
    }

    /// Sends one mail to every recipient.
    pub(crate) async fn send(
        &self,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<(), DeliveryError> {
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = if self.html {
            builder.multipart(MultiPart::alternative_plain_html(text, html))
        } else {
            builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            )
        }
        .map_err(|e| DeliveryError::Message(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|source| DeliveryError::Smtp {
                relay: self.relay.clone(),
                source,
            })
    }
}
