/** The web page's entry: one RelayApi for the page's life, the App rendered into #app. */
import { render } from 'preact';
import { RelayApi } from './api/relay-api';
import { App } from './views/app';
import './styles.css';

const root = document.getElementById('app');
if (root) render(<App api={new RelayApi()} />, root);
