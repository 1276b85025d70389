#compdef convcalc

_convcalc_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _CONVCALC_COMPLETE=complete_zsh convcalc)
}

compdef _convcalc_completion convcalc
