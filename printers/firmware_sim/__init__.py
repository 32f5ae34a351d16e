"""A Marlin firmware simulator behind a pseudo-terminal, with fault injection.

`model.MarlinModel` is the firmware's command handling (pure: a received line in, answers out);
`pty_runner.PtyFirmware` puts one or many models behind real pty device paths and models the
serial wire's time, because a pty moves bytes instantly whatever baud rate is set.
"""
