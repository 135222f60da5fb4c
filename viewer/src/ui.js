/**
 * Every Material-UI import lives here (Mirador 3 uses MUI 4; Mirador 4 uses MUI 7, whose
 * packages are @mui/material and @mui/icons-material): with src/mirador-api.js, the files a
 * port to Mirador 4 changes.
 */
export { default as Button } from '@material-ui/core/Button';
export { default as Checkbox } from '@material-ui/core/Checkbox';
export { default as Divider } from '@material-ui/core/Divider';
export { default as FormControlLabel } from '@material-ui/core/FormControlLabel';
export { default as LinearProgress } from '@material-ui/core/LinearProgress';
export { default as List } from '@material-ui/core/List';
export { default as ListItem } from '@material-ui/core/ListItem';
export { default as ListItemText } from '@material-ui/core/ListItemText';
export { default as Slider } from '@material-ui/core/Slider';
export { default as TextField } from '@material-ui/core/TextField';
export { default as Typography } from '@material-ui/core/Typography';
export { default as MachineIcon } from '@material-ui/icons/Memory';
