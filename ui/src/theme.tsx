import {useEffect, useState} from 'preact/hooks'

type Theme = 'auto' | 'light' | 'dark'
const KEY = 'plakar-theme'

function apply(theme: Theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = theme
}

apply((localStorage.getItem(KEY) as Theme | null) ?? 'auto')

/** Light, dark, or the system's choice; remembered in this browser. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(KEY) as Theme | null) ?? 'auto')
  useEffect(() => {
    apply(theme)
    localStorage.setItem(KEY, theme)
  }, [theme])
  const next: Record<Theme, Theme> = {auto: 'light', light: 'dark', dark: 'auto'}
  return (
    <button type="button" class="theme" id="theme-toggle" onClick={() => setTheme(next[theme])} title="Switch between light, dark and the system's theme" aria-label={`Theme: ${theme}`}>
      {theme === 'auto' ? '◐ auto' : theme === 'light' ? '☀ light' : '☾ dark'}
    </button>
  )
}
